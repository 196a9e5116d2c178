package shred

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/timeutil"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// attestBackup describes one shredded backup for the predicate.
func attestBackup(b *catalog.Backup, facts *ledgerFacts, ks attest.KeyStore, subject string) (attest.Backup, error) {
	d := b.Destruction
	until, err := ks.ResidualCopiesUntil(d.DestroyedAt.UTC())
	if err != nil {
		return attest.Backup{}, err
	}
	ab := attest.Backup{
		BackupID: b.ID, Subject: subject, Categories: nonNilStrings(b.Categories), ProtectedAt: b.CreatedAt.UTC(),
		KeyUnwraps: withAudit(facts.unwraps[b.ID], facts.audit, b.ID), RestoredCopies: facts.restored[b.ID], Holds: facts.holds[b.ID],
		Key:         attest.Key{Name: b.Key, VersionsDestroyed: d.VersionsDestroyed},
		DestroyedAt: d.DestroyedAt.UTC(), DestroyedBy: d.DestroyedBy,
		Verification:        attest.Verification{Method: "key read after delete", Result: attest.VerificationResult, MountPresent: d.MountPresent, At: d.VerifiedAt.UTC()},
		Ciphertext:          attestCiphertext(b, facts.storageHolds[b.ID]),
		ResidualCopiesUntil: until,
	}
	ab.EncryptedAfterFirstStorage, ab.Original = attestOriginal(b.Original)
	return ab, nil
}

func attestOriginal(o *catalog.Original) (bool, *attest.Original) {
	if o == nil || !o.EncryptedAfterFirstStorage {
		return false, nil
	}
	if o.Disposal == nil {
		return true, &attest.Original{Disposal: attest.DisposalUnknown}
	}
	at := o.Disposal.At.UTC()
	ao := &attest.Original{Disposal: o.Disposal.Method, At: &at, By: o.Disposal.By, Note: o.Disposal.Note}
	if e := o.Disposal.Evidence; e != nil {
		ao.Evidence = &attest.Document{Name: e.Name, SHA256: e.SHA256}
	}
	return true, ao
}

// attestCiphertext describes b's ciphertext; hold is the span of the
// storage's own legal hold for the case that the ledger records, which
// only a storage that can hold (S3 Object Lock) can have had.
func attestCiphertext(b *catalog.Backup, hold *attest.Span) attest.Ciphertext {
	d := b.Destruction
	ct := attest.Ciphertext{Deleted: d.CiphertextDeleted, AbsentBeforeShred: d.CiphertextAbsent,
		Storage: "file", Removed: slices.Clone(d.CiphertextRemoved)}
	if strings.HasPrefix(b.Ciphertext.Path, "s3://") {
		loc, _, _ := strings.Cut(b.Ciphertext.Path, "?")
		ct.Storage, ct.Locations, ct.StorageHold = "s3", []string{loc}, hold
		return ct
	}
	ct.Locations = []string{fileURL(b.Ciphertext.Path)}
	for i, r := range ct.Removed {
		ct.Removed[i] = fileURL(r)
	}
	return ct
}

func fileURL(path string) string {
	return (&url.URL{Scheme: "file", Path: path}).String()
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ledgerFacts walks the verified ledger once for the head, each backup's
// opens, and its holds' placement and release times, of the backups in
// only (the facts of the whole ledger's backups could be many more).
func (s *Service) ledgerFacts(ctx context.Context, only map[string]bool) (*ledgerFacts, error) {
	f := &ledgerFacts{unwraps: map[string]attest.KeyUnwraps{}, holds: map[string][]attest.Hold{}, openHolds: openSpans{},
		destroyed: map[string]bool{}, destructions: map[string][]listedDigest{}, restored: map[string][]attest.RestoredCopy{},
		storage: newStorageHoldSpans()}
	rep, err := ledger.Walk(ctx, s.ledger, func(e *ledger.Entry, _ []byte) error {
		f.add(e, only)
		return nil
	})
	f.openHolds = f.openHolds.compact()
	f.head = ledger.Head{Seq: rep.Entries, Hash: rep.Head}
	if !rep.AllChecked() {
		f.slots = rep.SlotsDigest()
	}
	return f, err
}

func (f *ledgerFacts) add(e *ledger.Entry, only map[string]bool) {
	if e.Kind == ledger.KindKeyDestroyed && e.Details[destructionsDetail] != "" {
		f.addDestructions(e.Case, parseDestructions(e.Details[destructionsDetail]), e.Backups, only)
	}
	at := e.At()
	f.storage.add(e, only)
	for _, id := range e.Backups {
		if !only[id] {
			continue
		}
		switch e.Kind {
		case ledger.KindBackupOpened:
			f.unwraps[id] = attest.KeyUnwraps{Count: f.unwraps[id].Count + 1, Last: &at}
			if out := e.Details["output"]; out != "" {
				f.restored[id] = append(f.restored[id], attest.RestoredCopy{At: at, By: e.Actor, Purpose: e.Details["purpose"], Output: out})
			}
		case ledger.KindRestoreDisposed:
			markDisposed(f.restored[id], e, at)
		case ledger.KindKeyDestroyed:
			f.destroyed[id] = true
		case ledger.KindHoldPlaced, ledger.KindHoldReleased:
			f.addHold(e, id, at)
		}
	}
}

// holdReleasedUntimedDetail marks, in the hold.released entry of a hold
// release that finishes an interrupted one, the backups whose hold the
// interrupted run released at a time the ledger does not record (the
// re-run may come days later): it ends the case's open hold unstated.
const holdReleasedUntimedDetail = "holdReleasedUntimed"

// holdPlacedAfreshDetail marks, in a hold.placed entry, the backups on
// which hold place re-activated its case's hold record released by a hold
// release the ledger does not record (interrupted before its entry): the
// case's hold the ledger still shows open from its earlier placement
// ended at a time it does not know, so that one is dropped unstated and a
// new one starts at this entry.
const holdPlacedAfreshDetail = "holdPlacedAfresh"

// addHold takes e as a step of a key hold on id, in ledger order: a
// placement opens the case's hold unless one is open, a release closes
// the open one into a span. A release with no open placement of its case
// (planted, or repeated) adds nothing, so that no entry a role can sign
// gives a span without a start. A placement marked afresh
// (holdPlacedAfreshDetail) drops the open one unstated and opens its own;
// forged, it only states less. A release marked untimed
// (holdReleasedUntimedDetail) ends the open one and states nothing of it:
// a hold has no statement without its end, and an end at the re-run's
// time would state the hold for longer than the case held. Vault's times follow ledger order but for
// a clock stepping back across a failover; a release it dates before its
// placement is taken as at the placement, so that the span never ends
// before it begins, which would make every later statement invalid.
func (f *ledgerFacts) addHold(e *ledger.Entry, id string, at time.Time) {
	key := e.Case + "/" + id
	switch e.Kind {
	case ledger.KindHoldPlaced:
		if slices.Contains(strings.Fields(e.Details[holdPlacedAfreshDetail]), id) {
			f.openHolds.end(key)
		}
		f.openHolds.start(key, at)
	case ledger.KindHoldReleased:
		if placed, open := f.openHolds.end(key); open && !slices.Contains(strings.Fields(e.Details[holdReleasedUntimedDetail]), id) {
			f.holds[id] = append(f.holds[id], attest.Hold{Case: e.Case, PlacedAt: placed, ReleasedAt: timeutil.Later(placed, at)})
		}
	}
}

// openSpans pairs, in ledger order, the start of a span with the next
// end of the same key: a start while one is open, or an end while none
// is, changes nothing.
type openSpans map[string]time.Time

// compact returns o in a map of its size: a Go map keeps the room of the
// entries deleted from it, here every hold placed and released since.
func (o openSpans) compact() openSpans {
	out := make(openSpans, len(o))
	for k, v := range o {
		out[k] = v
	}
	return out
}

func (o openSpans) start(key string, at time.Time) {
	if _, open := o[key]; !open {
		o[key] = at
	}
}

// end closes key's span and returns its start, if one was open.
func (o openSpans) end(key string) (time.Time, bool) {
	from, open := o[key]
	delete(o, key)
	return from, open
}

// listedDigest is the digest of a backup's destruction that an entry of
// a case recorded when it listed it.
type listedDigest struct{ caseID, digest string }

// addDestructions keeps, for each of listed in only, the digest of its
// destruction the entry recorded, if no earlier entry of its case did.
func (f *ledgerFacts) addDestructions(caseID string, digests map[string]string, listed []string, only map[string]bool) {
	for _, id := range listed {
		if !only[id] || digests[id] == "" || slices.ContainsFunc(f.destructions[id], func(l listedDigest) bool { return l.caseID == caseID }) {
			continue
		}
		f.destructions[id] = append(f.destructions[id], listedDigest{caseID, digests[id]})
	}
}

// recordedDigest returns the digest of backup id's destruction that the
// first entry listing it recorded, whatever its case: a later entry (of
// this case or another, which the admin may append) does not replace it.
func (f *ledgerFacts) recordedDigest(id string) (string, bool) {
	if listed := f.destructions[id]; len(listed) > 0 {
		return listed[0].digest, true
	}
	return "", false
}

// withAudit adds what the audit log showed for backup id to its ledger
// count of unwraps.
func withAudit(u attest.KeyUnwraps, rep *audit.Report, id string) attest.KeyUnwraps {
	if rep == nil {
		return u
	}
	a := &attest.AuditUnwraps{LogFrom: rep.Log.From, LogTo: rep.Log.To}
	for _, f := range rep.Findings {
		if f.Backup == id {
			a.Count++
			if !f.Accounted() {
				a.Unrecorded++
			}
		}
	}
	u.Audit = a
	return u
}

// markDisposed records e, a disposal of restored copies, on the copies it
// names: those written to its output ("*" for all) before it in the
// ledger, which are all copies has yet. A disposal a clock stepping back
// (a failover) dates before its copy is stated at the copy's time.
func markDisposed(copies []attest.RestoredCopy, e *ledger.Entry, at time.Time) {
	for i := range copies {
		c := &copies[i]
		if c.DisposedAt == nil && (e.Details["output"] == allRestoredCopies || e.Details["output"] == c.Output) {
			disposed := timeutil.Later(c.At, at)
			c.DisposedAt, c.DisposedBy, c.Note = &disposed, e.Actor, e.Details["note"]
		}
	}
}
