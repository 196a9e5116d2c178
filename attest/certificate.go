package attest

import (
	_ "embed"
	"fmt"
	htmltemplate "html/template"
	"io"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/cryptoshred/cryptoshred/attest/tsa"
	"github.com/cryptoshred/cryptoshred/internal/safetext"
)

//go:embed certificate.html.tmpl
var certificateHTML string

//go:embed certificate.txt.tmpl
var certificateText string

var templateFuncs = map[string]any{
	"date":    formatTime,
	"datep":   formatTimePtr,
	"join":    strings.Join,
	"ints":    joinInts,
	"yesno":   yesNo,
	"inc":     func(i int) int { return i + 1 },
	"nonzero": func(t time.Time) bool { return !t.IsZero() },
}

var (
	htmlTmpl = htmltemplate.Must(htmltemplate.New("certificate").Funcs(templateFuncs).Parse(certificateHTML))
	textTmpl = texttemplate.Must(texttemplate.New("certificate").Funcs(templateFuncs).Parse(certificateText))
)

// RenderText writes a plain-text NIST SP 800-88 Certificate of Sanitization
// for st. fp is the fingerprint of the key that verified st's signature; the
// caller must pass "" when the signature was not verified, and the
// certificate then says so. times are the verified RFC 3161 timestamps
// (Report.TrustedTimes), shown with their authority; pass none when they
// were not verified.
func RenderText(w io.Writer, st *Statement, fp string, times ...tsa.Verified) error {
	return RenderTextWith(w, st, fp, CertExtras{Times: times})
}

// CertExtras are what a certificate shows beyond the statement: verified
// trusted times and a verified witness.
type CertExtras struct {
	Times   []tsa.Verified
	Witness *WitnessSeal
	// Warnings are what verification warned of beyond the statement
	// (Report.CheckWarnings); the certificate lists them first.
	Warnings []string
}

// WitnessSeal is a verified witness, for the certificate: the caller must
// set it only after VerifyWitness succeeded.
type WitnessSeal struct {
	ID          string
	Signer      string
	Fingerprint string
	IssuedAt    time.Time
	Backups     int
}

// NewWitnessSeal describes a verified witness statement signed by the key
// with fingerprint fp.
func NewWitnessSeal(ws *WitnessStatement, fp string) *WitnessSeal {
	p := ws.Predicate
	signer := p.Witness.VaultIdentity.String()
	if p.Witness.Name != "" {
		signer = p.Witness.Name + ", " + signer
	}
	return &WitnessSeal{ID: safetext.Escape(p.WitnessID), Signer: safetext.Escape(signer), Fingerprint: fp, IssuedAt: p.IssuedAt, Backups: len(p.Backups)}
}

// RenderTextWith is RenderText with a witness.
func RenderTextWith(w io.Writer, st *Statement, fp string, x CertExtras) error {
	if err := textTmpl.Execute(w, newCertView(escapedStatement(st), fp, x)); err != nil {
		return fmt.Errorf("failed to render certificate: %w", err)
	}
	return nil
}

// RenderHTML writes a self-contained HTML Certificate of Sanitization for st
// (inline CSS, no external assets, A4 print layout). fp and times are as
// for RenderText.
func RenderHTML(w io.Writer, st *Statement, fp string, times ...tsa.Verified) error {
	return RenderHTMLWith(w, st, fp, CertExtras{Times: times})
}

// RenderHTMLWith is RenderHTML with a witness.
func RenderHTMLWith(w io.Writer, st *Statement, fp string, x CertExtras) error {
	if err := htmlTmpl.Execute(w, newCertView(escapedStatement(st), fp, x)); err != nil {
		return fmt.Errorf("failed to render certificate: %w", err)
	}
	return nil
}

// certView is what the certificate templates see.
type certView struct {
	*Deletion
	Fingerprint string
	// TrustedTimes are verified RFC 3161 times, authority names escaped.
	TrustedTimes []tsa.Verified
	Witness      *WitnessSeal
	Summary      *certSummary
	Backups      []backupView
	Warnings     []string
	FirstDone    time.Time
	LastDone     time.Time
	Residual     time.Time
}

// backupView is one backup with its subject digest and its original's fate
// spelled out.
type backupView struct {
	Backup
	SHA256          string
	OriginalStatus  string
	OriginalWarning bool
	// AuditWarning is an unwrap in Vault's audit log with no recorded
	// purpose.
	AuditWarning bool
}

func newCertView(st *Statement, fp string, x CertExtras) *certView {
	v := &certView{Deletion: &st.Predicate, Fingerprint: fp, Warnings: st.Predicate.Warnings(), Witness: x.Witness}
	for _, t := range x.Times {
		t.Authority = safetext.Escape(t.Authority)
		v.TrustedTimes = append(v.TrustedTimes, t)
	}
	for _, b := range st.Predicate.Backups {
		v.Backups = append(v.Backups, backupView{
			Backup:          b,
			SHA256:          subjectDigest(st, b.Subject),
			OriginalStatus:  originalStatus(&b),
			OriginalWarning: b.OriginalUnknown(),
			AuditWarning:    b.KeyUnwraps.Audit != nil && b.KeyUnwraps.Audit.Unrecorded > 0,
		})
		v.widen(b)
	}
	if v.Summary = summarize(v); v.Summary != nil {
		v.Warnings = v.Summary.groupedWarnings()
		v.Summary.countVerification(len(x.Warnings))
	}
	v.Warnings = append(escapeAll(x.Warnings), v.Warnings...)
	return v
}

// widen extends the view's time span to cover b.
func (v *certView) widen(b Backup) {
	if v.FirstDone.IsZero() || b.DestroyedAt.Before(v.FirstDone) {
		v.FirstDone = b.DestroyedAt
	}
	if b.DestroyedAt.After(v.LastDone) {
		v.LastDone = b.DestroyedAt
	}
	if b.ResidualCopiesUntil.After(v.Residual) {
		v.Residual = b.ResidualCopiesUntil
	}
}

func subjectDigest(st *Statement, name string) string {
	for _, s := range st.Subject {
		if s.Name == name {
			return s.Digest["sha256"]
		}
	}
	return "(no subject)"
}

func originalStatus(b *Backup) string {
	o := b.Original
	switch {
	case !b.EncryptedAfterFirstStorage:
		return "none: the backup was encrypted before it was first stored"
	case b.OriginalUnknown():
		return "UNKNOWN: the unencrypted original is not accounted for and may still exist"
	}
	s := disposalText(o.Disposal) + " on " + formatTimePtr(o.At) + " by " + o.By
	if o.Note != "" {
		s += "; note: " + o.Note
	}
	if o.Evidence != nil {
		s += "; evidence: " + o.Evidence.Name + " (sha256 " + o.Evidence.SHA256 + ")"
	}
	return s
}

func disposalText(d string) string {
	switch d {
	case DisposalDeleted:
		return "deleted"
	case DisposalMediaSanitized:
		return "media sanitized"
	case DisposalNotOurs:
		return "held by another party, who answers for it"
	}
	return d
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func formatTimePtr(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

func joinInts(vs []int) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.Itoa(v)
	}
	return strings.Join(s, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// escapeAll escapes each of texts for a certificate (safetext.Escape):
// a verifier's warning can quote what the attestation carries.
func escapeAll(texts []string) []string {
	out := make([]string, len(texts))
	for i, t := range texts {
		out[i] = safetext.Escape(t)
	}
	return out
}
