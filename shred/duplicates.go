package shred

import (
	"context"
	"slices"
	"strings"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
)

// live reports whether b is a registered backup whose key may still
// decrypt it: anything registered and not yet shredded.
func live(b *catalog.Backup) bool {
	return b.Registered && b.State != catalog.StateShredded && b.State != catalog.StateFailed
}

// refuseDuplicate refuses to protect a file whose content a live backup
// already holds: shredding one of two such backups would leave the data
// readable in the other. The file is hashed only when a live backup has
// its size, so protecting new data costs one catalog listing.
func (s *Service) refuseDuplicate(ctx context.Context, orig *catalog.Original) error {
	if orig == nil {
		return nil
	}
	all, _, err := s.catalog.ListBackups(ctx, catalog.BackupFilter{})
	if err != nil {
		return err
	}
	var sameSize []*catalog.Backup
	for _, b := range all {
		if live(b) && !resumable(b, orig) && b.Plaintext.Size == orig.Size && b.Plaintext.SHA256 != "" {
			sameSize = append(sameSize, b)
		}
	}
	if len(sameSize) == 0 {
		return nil
	}
	sum, _, err := fsutil.FileSHA256(orig.Path)
	if err != nil {
		return err
	}
	var dups []string
	for _, b := range sameSize {
		if b.Plaintext.SHA256 == sum {
			dups = append(dups, b.ID+" ("+string(b.State)+")")
		}
	}
	if len(dups) == 0 {
		return nil
	}
	return errs.Refusedf("%s has the same content (sha256 %s) as backup %s: a second backup of the same data "+
		"stays readable when one is shredded; pass --allow-duplicate to protect it anyway", orig.Path, sum, strings.Join(dups, ", "))
}

// duplicateWarnings names, for each backup of the plan, the live backups
// outside the plan's destructions that hold the same plaintext: they stay
// readable after the shred.
func (s *Service) duplicateWarnings(ctx context.Context, p *Plan) error {
	all, err := s.backupsBeside(ctx, p)
	if err != nil {
		return err
	}
	destroyed := map[string]bool{}
	for _, it := range p.Items {
		if it.Action != ActionSkip {
			destroyed[it.Backup.ID] = true
		}
	}
	byDigest := map[string][]*catalog.Backup{}
	for _, b := range all {
		if live(b) && !destroyed[b.ID] && b.Plaintext.SHA256 != "" {
			byDigest[b.Plaintext.SHA256] = append(byDigest[b.Plaintext.SHA256], b)
		}
	}
	for _, it := range p.Items {
		if it.Action == ActionSkip {
			continue
		}
		for _, d := range byDigest[it.Backup.Plaintext.SHA256] {
			it.Warnings = append(it.Warnings, "backup "+d.ID+" ("+string(d.State)+", system "+dashIfEmpty(d.System)+
				") holds the same plaintext (sha256 "+d.Plaintext.SHA256+") and stays readable after this shred")
		}
	}
	return nil
}

// backupsBeside returns every readable backup of the catalog, as
// ListBackups does, but takes those of the plan from the plan, which read
// them moments before, and reads only the others.
func (s *Service) backupsBeside(ctx context.Context, p *Plan) ([]*catalog.Backup, error) {
	planned := make(map[string]*catalog.Backup, len(p.Items))
	for _, it := range p.Items {
		if it.version > 0 {
			planned[it.Backup.ID] = it.Backup
		}
	}
	ids, err := s.catalog.BackupIDs(ctx)
	if err != nil {
		return nil, err
	}
	var all []*catalog.Backup
	others := slices.DeleteFunc(ids, func(id string) bool {
		if b := planned[id]; b != nil {
			all = append(all, b)
			return true
		}
		return false
	})
	rest, _, err := s.catalog.ReadBackups(ctx, others)
	all = append(all, rest...)
	slices.SortFunc(all, func(a, b *catalog.Backup) int { return strings.Compare(a.ID, b.ID) })
	return all, err
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
	all, _, err := s.catalog.ListBackups(ctx, catalog.BackupFilter{})
	if err != nil {
		return nil, err
	}
	attested := map[string]bool{}
	for _, b := range backups {
		attested[b.ID] = true
	}
	byDigest := map[string][]string{}
	for _, b := range all {
		if live(b) && !attested[b.ID] && b.Plaintext.SHA256 != "" {
			byDigest[b.Plaintext.SHA256] = append(byDigest[b.Plaintext.SHA256], b.ID)
		}
	}
	out := map[string][]string{}
	for _, b := range backups {
		if ids := byDigest[b.Plaintext.SHA256]; b.Plaintext.SHA256 != "" && len(ids) > 0 {
			out[b.ID] = ids
		}
	}
	return out, nil
}

// resumable reports an unfinished protect of this very file, which a
// re-run resumes rather than duplicates.
func resumable(b *catalog.Backup, orig *catalog.Original) bool {
	return b.State == catalog.StateProtecting && b.Original != nil && b.Original.Path == orig.Path
}
