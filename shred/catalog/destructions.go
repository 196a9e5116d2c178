package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Destructions is a shred run's record, written once per batch after it
// verified the batch's keys gone and deleted their ciphertexts, of each
// backup's destruction; a later run that deletes a ciphertext left behind
// writes one with the outcome. One write per batch, where a status record
// per backup would cost Vault a write per key: on integrated storage that
// write is as dear as the key's deletion itself.
//
// It is written by the backup-admin role, who may also write the status
// records, so it is trusted as a status record is: a key is never
// deleted because of it, a backup counts as destroyed only once Vault no
// longer has its key, and an attestation names a destruction only if the
// ledger recorded its digest.
type Destructions struct {
	Case    string                  `json:"case"`
	By      string                  `json:"by"`
	At      time.Time               `json:"at"`
	Backups map[string]*Destruction `json:"backups"`
}

func destructionDir(caseID string) string { return "destructions/" + caseID + "/" }

// maxDestructionsBytes bounds one record's JSON, far below the 1 MiB
// that Vault's integrated storage accepts per entry: accounts with long
// notes or many S3 versions removed are split over more records.
var maxDestructionsBytes = 256 << 10

// PutDestructions stores d under a new name in its case's directory (a
// name is never written twice), as several records if it is larger than
// one should be.
func (c *Catalog) PutDestructions(ctx context.Context, d *Destructions) error {
	if err := CheckID("case", d.Case); err != nil {
		return err
	}
	for _, part := range d.split() {
		if _, err := PutJSON(ctx, c.store, destructionDir(d.Case)+intentName(d.At), part, 0); err != nil {
			return fmt.Errorf("failed to record the destruction of %d backup(s): %w", len(part.Backups), err)
		}
	}
	return nil
}

// split returns d as records of at most maxDestructionsBytes each, but
// never splits one backup's account.
func (d *Destructions) split() []*Destructions {
	b, err := json.Marshal(d)
	if err != nil || len(b) <= maxDestructionsBytes || len(d.Backups) < 2 {
		return []*Destructions{d}
	}
	ids := slices.Sorted(maps.Keys(d.Backups))
	var out []*Destructions
	for _, half := range [][]string{ids[:len(ids)/2], ids[len(ids)/2:]} {
		part := &Destructions{Case: d.Case, By: d.By, At: d.At, Backups: make(map[string]*Destruction, len(half))}
		for _, id := range half {
			part.Backups[id] = d.Backups[id]
		}
		out = append(out, part.split()...)
	}
	return out
}

// CaseDestructions returns, by backup id, what the runs of caseID
// recorded of each destruction, oldest first: one entry per destruction
// of the key (two runs that both deleted it record two), each with the
// latest outcome for its ciphertext. A record that is malformed or names
// another case is left out, as an intent is: it can only keep a
// destruction from being found, and the next run then verifies and
// records it again.
func (c *Catalog) CaseDestructions(ctx context.Context, caseID string) (map[string][]*Destruction, error) {
	recs, err := caseRecords(ctx, c, destructionDir(caseID), caseID, "destruction record", func(d *Destructions) string { return d.Case })
	out := map[string][]*Destruction{}
	for _, rec := range recs {
		if rec == nil { // its read failed, and err says why
			continue
		}
		for _, id := range slices.Sorted(maps.Keys(rec.Backups)) {
			if d := rec.Backups[id]; ValidID(id) && d != nil {
				out[id] = MergeDestructions(out[id], d)
			}
		}
	}
	return out, err
}

// MergeDestructions adds ds to seen, accounts of one backup's
// destruction: an account of a destruction of the key not seen yet is
// added after the others (two runs that both deleted it). The ciphertext
// is one whatever run came to it, so every account carries the outcome
// that says most: deleted where another says not, or anything where
// another left it behind (a later run's retry).
func MergeDestructions(seen []*Destruction, ds ...*Destruction) []*Destruction {
	for _, d := range ds {
		seen = mergeDestruction(seen, d)
	}
	return seen
}

func mergeDestruction(seen []*Destruction, d *Destruction) []*Destruction {
	best := d
	if len(seen) > 0 && !saysMoreOfCiphertext(d, seen[0]) {
		best = seen[0]
	}
	if !slices.ContainsFunc(seen, d.SameKeyDestruction) {
		seen = append(seen, d)
	}
	for i := range seen {
		seen[i] = seen[i].WithCiphertext(best)
	}
	return seen
}

// saysMoreOfCiphertext reports whether d's ciphertext outcome says more
// than s's: deleted where s's does not, or anything where s left it behind.
func saysMoreOfCiphertext(d, s *Destruction) bool {
	return s.CiphertextLeft() || (d.CiphertextDeleted && !s.CiphertextDeleted)
}

// SameKeyDestruction reports whether d and o record the same destruction
// of a key: the same versions, by the same actor, at the same time,
// verified the same way. Their ciphertext outcomes may differ.
func (d *Destruction) SameKeyDestruction(o *Destruction) bool {
	return slices.Equal(d.VersionsDestroyed, o.VersionsDestroyed) && d.DestroyedBy == o.DestroyedBy &&
		d.DestroyedAt.Equal(o.DestroyedAt) && d.VerifiedAt.Equal(o.VerifiedAt) &&
		d.Verification == o.Verification && d.MountPresent == o.MountPresent
}

// CiphertextLeft reports a destruction whose ciphertext is neither
// deleted nor known to be absent: the storage failed, and a later run
// tries again.
func (d *Destruction) CiphertextLeft() bool {
	return d != nil && !d.CiphertextDeleted && !d.CiphertextAbsent
}

// WithCiphertext returns a copy of d with the ciphertext outcome of from.
func (d *Destruction) WithCiphertext(from *Destruction) *Destruction {
	out := *d
	out.CiphertextDeleted, out.CiphertextAbsent, out.CiphertextNote = from.CiphertextDeleted, from.CiphertextAbsent, from.CiphertextNote
	out.CiphertextRemoved = slices.Clone(from.CiphertextRemoved)
	return &out
}

// ApplyDestructions records b as shredded with the first of ds,
// accounts of its destruction that runs recorded (CaseDestructions), and
// keeps the others in OtherDestructions (a second run that deleted the
// same key). A status record that already says shredded, as versions
// before the destruction records wrote (or as the compliance officer may
// write), adds its account after ds, all with the ciphertext outcome that
// says most: where the ledger recorded one of them, the attestation takes
// that one, so an account rewritten since cannot replace it, and a run
// that lists a destruction lists the first a record holds. What decides
// must also find the key gone from Vault: the records are the admin's to
// write.
func (b *Backup) ApplyDestructions(ds []*Destruction) {
	ds = MergeDestructions(nil, ds...) // the merge copies each account: the caller may be sharing ds
	if b.State == StateShredded && b.Destruction != nil {
		ds = MergeDestructions(ds, b.Destruction)
	}
	if len(ds) == 0 {
		return
	}
	b.State, b.Destruction, b.OtherDestructions = StateShredded, ds[0], ds[1:]
}
