package attest

import (
	"fmt"
	"slices"
	"time"
)

func (c *checker) backup(path string, b *Backup, d *Deletion) {
	c.str(path+".backupId", b.BackupID)
	c.str(path+".subject", b.Subject)
	c.strs(path+".categories", b.Categories, 0)
	c.time(path+".protectedAt", b.ProtectedAt)
	c.original(path, b)
	c.keyUnwraps(path+".keyUnwraps", b.KeyUnwraps)
	c.restoredCopies(path+".restoredCopies", b)
	for i, id := range b.SameDataStillIn {
		c.str(fmt.Sprintf("%s.sameDataStillIn[%d]", path, i), id)
	}
	c.holds(path, b, d.Case.ID)
	c.key(path+".key", b.Key)
	c.time(path+".destroyedAt", b.DestroyedAt)
	c.order(path+".protectedAt", b.ProtectedAt, path+".destroyedAt", b.DestroyedAt)
	c.order(path+".destroyedAt", b.DestroyedAt, "predicate.issuedAt", d.IssuedAt)
	c.str(path+".destroyedBy", b.DestroyedBy)
	c.verification(path, b)
	c.ciphertext(path+".ciphertext", b.Ciphertext)
	c.residual(path+".residualCopiesUntil", b, d.KeyStore)
}

func (c *checker) original(path string, b *Backup) {
	path += ".original"
	o := b.Original
	switch {
	case o == nil && b.EncryptedAfterFirstStorage:
		c.fail(path, "is required when encryptedAfterFirstStorage is true (use disposal %q if nobody knows)", DisposalUnknown)
	case o == nil:
	case !b.EncryptedAfterFirstStorage:
		c.fail(path, "must be absent when encryptedAfterFirstStorage is false")
	case o.Disposal == DisposalUnknown:
		c.originalUnknown(path, o)
	default:
		c.originalKnown(path, o)
	}
}

func (c *checker) originalUnknown(path string, o *Original) {
	if o.At != nil || o.By != "" || o.Evidence != nil {
		c.fail(path, "has at, by or evidence although disposal is %q", DisposalUnknown)
	}
}

func (c *checker) originalKnown(path string, o *Original) {
	known := []string{DisposalDeleted, DisposalMediaSanitized, DisposalNotOurs}
	if !slices.Contains(known, o.Disposal) {
		c.fail(path+".disposal", "must be one of deleted, media-sanitized, not-ours, unknown; not %q", o.Disposal)
	}
	if o.At == nil {
		c.fail(path+".at", "is required")
	} else {
		c.time(path+".at", *o.At)
	}
	c.str(path+".by", o.By)
	if o.Evidence != nil {
		c.document(path+".evidence", *o.Evidence)
	}
}

func (c *checker) keyUnwraps(path string, u KeyUnwraps) {
	if a := u.Audit; a != nil && (a.Count < 0 || a.Unrecorded < 0 || a.Unrecorded > a.Count) {
		c.fail(path+".audit", "counts are inconsistent")
	}
	switch {
	case u.Count < 0:
		c.fail(path+".count", "must not be negative")
	case u.Count == 0 && u.Last != nil:
		c.fail(path+".last", "must be absent when count is 0")
	case u.Count > 0 && u.Last == nil:
		c.fail(path+".last", "is required when count is above 0")
	case u.Last != nil:
		c.time(path+".last", *u.Last)
	}
}

func (c *checker) restoredCopies(path string, b *Backup) {
	for i, r := range b.RestoredCopies {
		rp := fmt.Sprintf("%s[%d]", path, i)
		c.time(rp+".at", r.At)
		c.str(rp+".by", r.By)
		c.str(rp+".output", r.Output)
		if r.DisposedAt != nil {
			c.time(rp+".disposedAt", *r.DisposedAt)
			c.order(rp+".at", r.At, rp+".disposedAt", *r.DisposedAt)
			c.str(rp+".disposedBy", r.DisposedBy)
		}
	}
}

func (c *checker) holds(bp string, b *Backup, caseID string) {
	path := bp + ".holds"
	found := false
	for i, h := range b.Holds {
		hp := fmt.Sprintf("%s[%d]", path, i)
		c.str(hp+".case", h.Case)
		c.time(hp+".placedAt", h.PlacedAt)
		c.time(hp+".releasedAt", h.ReleasedAt)
		c.order(hp+".placedAt", h.PlacedAt, hp+".releasedAt", h.ReleasedAt)
		found = found || h.Case == caseID
	}
	if !found {
		c.fail(path, "has no hold for case %q", caseID)
	}
}

func (c *checker) key(path string, k Key) {
	c.str(path+".name", k.Name)
	if len(k.VersionsDestroyed) == 0 {
		c.fail(path+".versionsDestroyed", "needs at least 1 entry")
	}
	for i, v := range k.VersionsDestroyed {
		if v < 1 {
			c.fail(fmt.Sprintf("%s.versionsDestroyed[%d]", path, i), "must be at least 1")
		}
	}
	if k.Exportable || k.AllowPlaintextBackup {
		c.fail(path, "was exportable or allowed plaintext backup, so it may exist outside Vault and Cryptographic Erase cannot be claimed")
	}
}

// verification requires what every run of the tool has written once it
// read the key back: not found, with the Transit mount present. Any other
// result, or a mount that was gone (every key "not found"), does not show
// the key destroyed.
func (c *checker) verification(bp string, b *Backup) {
	path, v := bp+".verification", b.Verification
	c.str(path+".method", v.Method)
	c.constant(path+".result", v.Result, VerificationResult)
	if !v.MountPresent {
		c.fail(path+".mountPresent", "must be true: with the Transit mount gone every key reads as not found")
	}
	c.time(path+".at", v.At)
	c.order(bp+".destroyedAt", b.DestroyedAt, path+".at", v.At)
}

func (c *checker) ciphertext(path string, ct Ciphertext) {
	if ct.Deleted && len(ct.Locations) == 0 {
		c.fail(path+".locations", "must list where the ciphertext was deleted")
	}
	if h := ct.StorageHold; h != nil {
		if ct.Storage == "file" {
			c.fail(path+".storageHold", "a local file has no storage hold of its own")
		}
		c.time(path+".storageHold.from", h.From)
		c.order(path+".storageHold.from", h.From, path+".storageHold.to", h.To)
	}
	if ct.Deleted && ct.AbsentBeforeShred {
		c.fail(path+".absentBeforeShred", "contradicts deleted: a ciphertext is either deleted or was already absent")
	}
	c.strs(path+".locations", ct.Locations, 0)
}

func (c *checker) residual(path string, b *Backup, ks KeyStore) {
	c.time(path, b.ResidualCopiesUntil)
	want, err := ks.ResidualCopiesUntil(b.DestroyedAt)
	if err != nil || b.DestroyedAt.IsZero() {
		return
	}
	if !b.ResidualCopiesUntil.Equal(want) {
		c.fail(path, "must be destroyedAt plus keyStore.snapshotRetention (%s)", want.Format(time.RFC3339))
	}
}
