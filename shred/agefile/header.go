package agefile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// maxArmorLead is how much leading whitespace an armored file may have,
// as age itself allows.
const maxArmorLead = 1024

// HeaderStanzas returns the recipient stanzas of the age file r (binary
// or armored) without decrypting it: age parses the header (at most
// 2 MiB) and hands its stanzas to an identity that records them and
// unwraps nothing. r is left somewhere past the header.
func HeaderStanzas(r io.Reader) ([]*age.Stanza, error) {
	rec, src := &stanzaRecorder{}, &readErr{r: r}
	_, err := age.Decrypt(dearmor(src), rec)
	if rec.stanzas == nil {
		return nil, headerFailure(src, err)
	}
	return rec.stanzas, nil
}

// ErrUnread marks a header that could not be read at all (the disk or the
// connection failed): it says nothing of what the file is.
var ErrUnread = errors.New("failed to read the file")

// headerFailure says why age could not read the header of the file read
// through in (err is age's error): the file could not be read (ErrUnread),
// or it is not an age file.
func headerFailure(in *readErr, err error) error {
	if in.err != nil {
		return fmt.Errorf("%w: %w", ErrUnread, in.err)
	}
	return notAgeFile(err)
}

// readErr keeps the first error of r other than io.EOF: a file that could
// not be read is not thereby "not an age file".
type readErr struct {
	r   io.Reader
	err error
}

func (e *readErr) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// notAgeFile says why a file is not an age file without age's own error,
// which quotes the file's first line: a registration can point at any
// file (a token, a password file), and the error reaches the terminal and
// the catalog.
func notAgeFile(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return errors.New("not an age file: it ends before an age header does")
	}
	return errors.New("not an age file: it does not start with an age header")
}

// dearmor returns in's age file, without its armor if it has one.
func dearmor(in *readErr) io.Reader {
	br := bufio.NewReader(in)
	start, _ := br.Peek(maxArmorLead + len(armor.Header))
	if bytes.HasPrefix(bytes.TrimSpace(start), []byte(armor.Header)) {
		return &armorErrors{r: armor.NewReader(&lineLimited{r: br}), in: in}
	}
	return br
}

// maxArmorLine bounds a line of an armored file: age writes 64 columns,
// and the armor reader reads a whole line into memory at a time.
const maxArmorLine = 4 << 10

// errMalformedArmor replaces the armor reader's own errors, which quote
// the file's lines: a registration can point at any file, and the error
// reaches the terminal and the catalog.
var errMalformedArmor = fmt.Errorf("the file's armor is malformed (not as age writes it, or a line longer than %d bytes)", maxArmorLine)

// armorErrors is an armored file's reader whose errors, other than those
// reading the file itself (in's), say errMalformedArmor.
type armorErrors struct {
	r  io.Reader
	in *readErr
}

func (a *armorErrors) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if err != nil && err != io.EOF && a.in.err == nil {
		err = errMalformedArmor
	}
	return n, err
}

// lineLimited is r that fails on a line longer than maxArmorLine.
type lineLimited struct {
	r   io.Reader
	run int
}

func (l *lineLimited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	for i, c := range p[:n] {
		if c == '\n' {
			l.run = 0
		} else if l.run++; l.run > maxArmorLine {
			return i, errMalformedArmor
		}
	}
	return n, err
}

// stanzaRecorder is an age.Identity that keeps the stanzas it is shown
// and never unwraps a file key.
type stanzaRecorder struct{ stanzas []*age.Stanza }

// Unwrap implements age.Identity.
func (s *stanzaRecorder) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	s.stanzas = slices.Clone(stanzas)
	return nil, age.ErrIncorrectIdentity
}

// RegistrableKey returns the per-backup key an age file's stanzas are
// wrapped to. It refuses any other stanza (whoever holds that identity
// could decrypt the file after the key is destroyed), more than one key,
// and a key name that is not a backup id ("bk-...").
func RegistrableKey(stanzas []*age.Stanza) (string, error) {
	for _, s := range stanzas {
		if s.Type != StanzaType {
			return "", errs.Refusedf("the file also has a %q recipient stanza: it can be decrypted without Vault, so destroying its key would not erase it", catalog.Truncate(s.Type, 40))
		}
	}
	if len(stanzas) != 1 {
		return "", errs.Refusedf("the file is wrapped to %d cryptoshred keys: a backup has exactly one", len(stanzas))
	}
	key, _, err := ParseStanza(stanzas[0])
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(key, "bk-") || !catalog.ValidID(key) {
		return "", errs.Refusedf("key %s is not a per-backup key (its name must start with \"bk-\"): encrypt to a fresh key with the age plugin's \"new\" recipient", key)
	}
	return key, nil
}

// HeaderKey reads an age file's header from r and returns the one
// per-backup key it is wrapped to (see RegistrableKey).
func HeaderKey(r io.Reader) (string, error) {
	stanzas, err := HeaderStanzas(r)
	if err != nil {
		return "", err
	}
	return RegistrableKey(stanzas)
}
