package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// live reports whether b is a registered backup whose status does not
// say that its key is gone. The protect-time duplicate check, the
// admin's own, goes by it; what plans and attestations state about other
// copies goes by Vault (readableCopies).
func live(b *catalog.Backup) bool {
	return b.Registered && b.State != catalog.StateShredded && b.State != catalog.StateFailed
}

// refuseDuplicate refuses to protect a file whose content a live backup
// already holds: shredding one of two such backups would leave the data
// readable in the other. The file is hashed only when the index marks a
// backup of its size, so protecting data of a new size costs one read.
func (s *Service) refuseDuplicate(ctx context.Context, orig *catalog.Original) error {
	if orig == nil {
		return nil
	}
	if seen, err := s.catalog.HasSize(ctx, orig.Size); err != nil || !seen {
		return err
	}
	sum, _, err := fsutil.FileSHA256(orig.Path)
	if err != nil {
		return err
	}
	same, err := s.sameData(ctx, []string{sum}, nil)
	if err != nil {
		return err
	}
	dups, err := s.liveCopies(ctx, same[sum], orig)
	if err != nil || len(dups) == 0 {
		return err
	}
	return errs.Refusedf("%s has the same content (sha256 %s) as backup %s: a second backup of the same data "+
		"stays readable when one is shredded; pass --allow-duplicate to protect it anyway", orig.Path, sum, strings.Join(dups, ", "))
}

// liveCopies names the backups of same that hold orig's data readably: a
// status that does not say shredded, and a key Vault still has (runs
// write no status record, so Vault says which of them were destroyed).
func (s *Service) liveCopies(ctx context.Context, same []*catalog.Backup, orig *catalog.Original) ([]string, error) {
	var dups []string
	for _, b := range same {
		if !live(b) || resumable(b, orig) {
			continue
		}
		gone, err := s.keys.KeyAbsent(ctx, b.Key)
		if err != nil {
			return nil, err
		}
		if !gone {
			dups = append(dups, b.ID+" ("+string(b.State)+")")
		}
	}
	return dups, nil
}

// sameData returns, by plaintext digest, the registered backups other
// than those in exclude that hold a plaintext of one of digests, whatever
// their state. It reads only the backups the digest index names, and keeps
// those whose write-once registration records the digest.
func (s *Service) sameData(ctx context.Context, digests []string, exclude map[string]bool) (map[string][]*catalog.Backup, error) {
	lists, err := parallel.Map(ctx, digests, parallel.DefaultLimit, func(ctx context.Context, d string) ([]string, error) {
		return s.catalog.DigestIDs(ctx, d)
	})
	if err != nil {
		return nil, err
	}
	var ids []string
	seen, wanted := map[string]bool{}, map[string]bool{}
	for _, d := range digests {
		wanted[d] = true
	}
	for _, l := range lists {
		for _, id := range l {
			if !exclude[id] && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	found, err := parallel.Map(ctx, ids, parallel.DefaultLimit, func(ctx context.Context, id string) (*catalog.Backup, error) {
		return s.registeredCopy(ctx, id, wanted)
	})
	out := map[string][]*catalog.Backup{}
	for _, b := range found {
		if b != nil {
			out[b.Plaintext.SHA256] = append(out[b.Plaintext.SHA256], b)
		}
	}
	return out, err
}

// registeredCopy returns backup id if its registration records one of
// wanted, or nil: an index entry without a matching registration adds
// nothing. Its status is added where it can be read; a status record the
// admin made unreadable does not hide the copy.
func (s *Service) registeredCopy(ctx context.Context, id string, wanted map[string]bool) (*catalog.Backup, error) {
	r, err := s.catalog.GetRegistration(ctx, id)
	switch {
	case errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused):
		return nil, err
	case err != nil || !wanted[r.Plaintext.SHA256]:
		return nil, nil
	}
	b, _, err := s.catalog.GetBackup(ctx, id)
	switch {
	case errors.Is(err, errs.ErrUnavailable) || errors.Is(err, errs.ErrRefused):
		return nil, err
	case err != nil:
		return r.Backup(), nil
	}
	return b, nil
}

// readableCopies keeps, of same, the backups whose key Vault still has:
// their data stays readable whatever their status record says, which the
// admin may rewrite. The mount is confirmed after the reads, so a missing
// mount is never taken for destroyed keys.
func (s *Service) readableCopies(ctx context.Context, same map[string][]*catalog.Backup) (map[string][]*catalog.Backup, error) {
	var all []*catalog.Backup
	for _, l := range same {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return same, nil
	}
	absent, err := parallel.Map(ctx, all, parallel.DefaultLimit, func(ctx context.Context, b *catalog.Backup) (bool, error) {
		return s.keys.KeyAbsent(ctx, b.Key)
	})
	if err == nil {
		err = s.keys.CheckMount(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("failed to ask Vault whether other copies of the data are still readable: %w", err)
	}
	out := map[string][]*catalog.Backup{}
	for i, b := range all {
		if !absent[i] {
			out[b.Plaintext.SHA256] = append(out[b.Plaintext.SHA256], b)
		}
	}
	return out, nil
}

// duplicateWarnings names, for each backup of the plan, the live backups
// outside the plan's destructions that hold the same plaintext: they stay
// readable after the shred.
func (s *Service) duplicateWarnings(ctx context.Context, p *Plan) error {
	destroyed := map[string]bool{}
	for _, it := range p.Items {
		if it.Action != ActionSkip {
			destroyed[it.Backup.ID] = true
		}
	}
	var digests []string
	for _, it := range p.Items {
		if d := it.Backup.Plaintext.SHA256; it.Action != ActionSkip && d != "" {
			digests = append(digests, d)
		}
	}
	same, err := s.sameDataShared(ctx, digests, destroyed)
	if err != nil {
		return err
	}
	for _, it := range p.Items {
		if it.Action == ActionSkip {
			continue
		}
		for _, d := range same[it.Backup.Plaintext.SHA256] {
			it.Warnings = append(it.Warnings, "backup "+d.ID+" ("+stateOrUnreadable(d.State)+", system "+dashIfEmpty(d.System)+
				") holds the same plaintext (sha256 "+d.Plaintext.SHA256+") and stays readable after this shred")
		}
	}
	return nil
}

// sameDataShared is sameData for many backups' digests: once the
// catalog's shared marks are complete, it looks up only the marked ones,
// so a plan or an attestation reads one listing instead of one per
// backup. A digest only one backup has is never marked, so the
// protect-time duplicate check, which looks for that one, calls sameData.
func (s *Service) sameDataShared(ctx context.Context, digests []string, exclude map[string]bool) (map[string][]*catalog.Backup, error) {
	digests = uniqueStrings(digests)
	if len(digests) == 0 {
		return nil, nil
	}
	shared, complete, err := s.catalog.SharedDigests(ctx)
	if err != nil {
		return nil, err
	}
	if complete {
		digests = slices.DeleteFunc(digests, func(d string) bool { return !shared[d] })
	}
	same, err := s.sameData(ctx, digests, exclude)
	if err != nil {
		return nil, err
	}
	return s.readableCopies(ctx, same)
}

func uniqueStrings(in []string) []string {
	slices.Sort(in)
	return slices.Compact(in)
}

func stateOrUnreadable(s catalog.State) string {
	if s == "" {
		return "status record unreadable"
	}
	return string(s)
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// sameDataElsewhere returns, for each of backups, the ids of the live
// backups outside them that hold the same plaintext.
func (s *Service) sameDataElsewhere(ctx context.Context, backups []*catalog.Backup) (map[string][]string, error) {
	attested := map[string]bool{}
	var digests []string
	for _, b := range backups {
		attested[b.ID] = true
		if b.Plaintext.SHA256 != "" {
			digests = append(digests, b.Plaintext.SHA256)
		}
	}
	same, err := s.sameDataShared(ctx, digests, attested)
	out := map[string][]string{}
	for _, b := range backups {
		for _, d := range same[b.Plaintext.SHA256] {
			out[b.ID] = append(out[b.ID], d.ID)
		}
	}
	return out, err
}

// resumable reports an unfinished protect of this very file (its path,
// size and modification time, as resumeProtect requires), which a re-run
// resumes rather than duplicates.
func resumable(b *catalog.Backup, orig *catalog.Original) bool {
	return b.State == catalog.StateProtecting && sameOriginal(b.Original, orig)
}
