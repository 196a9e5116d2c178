package shred

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// destructionsDetail is the ledger detail in which a key.destroyed entry
// records, for each backup it lists, destructionDigest of its
// destruction: "id=digest", space-separated.
const destructionsDetail = "destructions"

// destructionDigest digests what a destruction record says of a key's
// destruction and never changes once the key is verified gone: the
// versions destroyed, by whom, when, and how it was verified. The records
// are the admin's to write, so the entry that lists the destruction,
// signed with the admin's ledger key, records this digest, and an
// attestation names the destruction only if a record still has it. The ciphertext's fields are left out: a later
// run may still delete a ciphertext left behind, and the attestation asks
// the storage instead (ciphertextAtSigning).
func destructionDigest(d *catalog.Destruction) string {
	h := sha256.New()
	fmt.Fprintf(h, "%v\x00%s\x00%s\x00%s\x00%s\x00%t", d.VersionsDestroyed, d.DestroyedBy,
		d.DestroyedAt.UTC().Format(time.RFC3339Nano), d.VerifiedAt.UTC().Format(time.RFC3339Nano), d.Verification, d.MountPresent)
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// destructionsOf returns the details of an entry listing ids, whose
// destructions byID holds.
func destructionsOf(byID map[string]*PlanItem) func([]string) map[string]string {
	return func(ids []string) map[string]string {
		parts := make([]string, len(ids))
		for i, id := range ids {
			parts[i] = id + "=" + destructionDigest(byID[id].Backup.Destruction)
		}
		return map[string]string{destructionsDetail: strings.Join(parts, " ")}
	}
}

// parseDestructions reads an entry's destructions detail.
func parseDestructions(detail string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Fields(detail) {
		if id, digest, ok := strings.Cut(part, "="); ok {
			out[id] = digest
		}
	}
	return out
}

// destructionEdited says why b's destruction as the catalog has it is
// not what the ledger recorded when it listed it, or "". Where two runs
// recorded a destruction of the key (OtherDestructions), the one the
// ledger recorded becomes b's. An entry written before entries carried
// the digest records none, and the record is then taken as it is.
func destructionEdited(b *catalog.Backup, facts *ledgerFacts) string {
	want, ok := facts.recordedDigest(b.ID)
	if !ok || want == destructionDigest(b.Destruction) {
		return ""
	}
	for _, d := range b.OtherDestructions {
		if want == destructionDigest(d) {
			b.Destruction = d
			return ""
		}
	}
	return "the catalog's account of the key's destruction (versions, by whom, when, how verified) is not the one the ledger recorded when it listed the destruction: the record was changed since"
}

// ciphertextAtSigning makes what b's destruction says of its ciphertext
// agree with the storage now: one still at its registered location (a
// file there, or any version of the S3 key, whose age header names b's
// key) is stated as not deleted, whatever the status record says, and
// only locations of this ciphertext are named as removed. Only a record
// that says the ciphertext is gone is checked: one that says it is not
// deleted already says the least. It
// returns an error when the storage cannot say (the backup is then left
// out of the attestation, naming why).
func (s *Service) ciphertextAtSigning(ctx context.Context, b *catalog.Backup) error {
	d := b.Destruction
	d.CiphertextRemoved = slices.DeleteFunc(slices.Clone(d.CiphertextRemoved), func(r string) bool { return !sameCiphertext(b.Ciphertext.Path, r) })
	if !d.CiphertextDeleted && !d.CiphertextAbsent {
		return nil
	}
	there, err := s.stillThere(ctx, b)
	if err != nil || !there {
		return err
	}
	d.CiphertextDeleted, d.CiphertextAbsent, d.CiphertextRemoved = false, false, nil
	d.CiphertextNote = "not deleted: it was still at its location when the attestation was signed"
	return nil
}

// stillThere reports whether b's ciphertext is at its location: whether
// the storage finds there a ciphertext whose age header names b's key.
// For S3 that is any version of the key, not only the one on record: the
// attestation names the key without a version, and a plain read of it
// returns a copy put back after the deletion. It returns an error if the
// storage cannot say, or if something there has no age header to tell.
func (s *Service) stillThere(ctx context.Context, b *catalog.Backup) (bool, error) {
	be, err := s.storage.For(b.Ciphertext.Path)
	if err == nil {
		var found []string
		if found, err = be.Find(ctx, storage.Object{Loc: b.Ciphertext.Path, Check: headerTells(b.Key)}); err == nil {
			return len(found) > 0, nil
		}
	}
	return false, fmt.Errorf("whether its ciphertext is still at %s could not be checked: %w", b.Ciphertext.Path, err)
}

// headerTells accepts an age file whose header names key and rejects one
// whose header names another (a later backup that took the name).
// Anything without an age header is unchecked (storage.ErrUnchecked): it
// may be this ciphertext with its header spoilt, which is not gone.
func headerTells(key string) func(io.Reader) error {
	return func(r io.Reader) error {
		got, err := agefile.HeaderKey(r)
		switch {
		case err != nil:
			return fmt.Errorf("%w: %w", storage.ErrUnchecked, err)
		case got != key:
			return fmt.Errorf("its header names key %s", got)
		}
		return nil
	}
}

// sameCiphertext reports whether removed names the ciphertext at loc: the
// file itself, or a version of the same S3 object.
func sameCiphertext(loc, removed string) bool {
	object, _, _ := strings.Cut(loc, "?")
	return removed == loc || strings.HasPrefix(removed, object+"?")
}
