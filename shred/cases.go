package shred

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// OpenCase registers a new case and records it in the ledger. An existing
// id is refused, unless it is this very open, begun and not finished: the
// record was written but not its case.opened entry (the run stopped, or
// Vault's answer was lost, between the two writes). Then the entry is
// appended and the open is done.
func (s *Service) OpenCase(ctx context.Context, actor Actor, c catalog.Case) (*catalog.Case, error) {
	if err := checkCase(c); err != nil {
		return nil, err
	}
	c.State, c.OpenedAt, c.OpenedBy, c.Decision, c.ClosedAt = catalog.CaseOpen, catalog.Now(), actor.String(), nil, time.Time{}
	if _, err := s.catalog.PutCase(ctx, &c, 0); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return s.finishOpen(ctx, actor, &c)
		}
		return nil, err
	}
	return &c, s.appendOpened(ctx, actor, &c)
}

func (s *Service) appendOpened(ctx context.Context, actor Actor, c *catalog.Case) error {
	_, err := s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindCaseOpened, Case: c.ID,
		Details: map[string]string{"authority": c.Authority, "reference": c.Reference}})
	return err
}

// finishOpen appends the case.opened entry of want, an open of a case
// that exists, if the case on record is want opened by the same actor and
// still open, and the verified ledger has no such entry. Anything else is
// a case that already exists.
func (s *Service) finishOpen(ctx context.Context, actor Actor, want *catalog.Case) (*catalog.Case, error) {
	exists := errs.Refusedf("case %s already exists", want.ID)
	got, _, err := s.catalog.GetCase(ctx, want.ID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("case %s exists, and reading it failed: %w", want.ID, err)
	case !sameOpen(got, want):
		return nil, exists
	}
	recorded, err := s.caseOpenedRecorded(ctx, want.ID)
	switch {
	case err != nil:
		return nil, fmt.Errorf("case %s exists; whether the ledger records its opening could not be checked: %w", want.ID, err)
	case recorded:
		return nil, exists
	}
	return got, s.appendOpened(ctx, actor, got)
}

// sameOpen reports whether got is the case want opens, by the same actor,
// and nothing has happened to it since.
func sameOpen(got, want *catalog.Case) bool {
	return got.State == catalog.CaseOpen && got.OpenedBy == want.OpenedBy && got.Authority == want.Authority &&
		got.Reference == want.Reference && slices.Equal(got.Controllers, want.Controllers)
}

// caseOpenedRecorded reports whether the verified ledger has a
// case.opened entry for caseID.
func (s *Service) caseOpenedRecorded(ctx context.Context, caseID string) (bool, error) {
	found := false
	_, err := ledger.Walk(ctx, s.ledger, func(e *ledger.Entry, _ []byte) error {
		found = found || e.Kind == ledger.KindCaseOpened && e.Case == caseID
		return nil
	})
	return found, err
}

func checkCase(c catalog.Case) error {
	if err := catalog.CheckID("case", c.ID); err != nil {
		return err
	}
	if c.Authority == "" || c.Reference == "" {
		return errors.New("a case needs an authority and a reference")
	}
	if err := catalog.CheckText("authority", c.Authority, 256); err != nil {
		return err
	}
	for _, ctl := range c.Controllers {
		if err := catalog.CheckText("controller", ctl, 256); err != nil || ctl == "" {
			return fmt.Errorf("invalid controller %q", catalog.Truncate(ctl, 40))
		}
	}
	return catalog.CheckText("reference", c.Reference, 256)
}

// AddControllers adds data controllers to a case, so that a shred of its
// backups can be attested. Any case may take them, a closed one too: a
// case closed without one leaves released backups that no run may
// destroy until one is recorded. Names already there are skipped; the
// addition is recorded in the ledger.
func (s *Service) AddControllers(ctx context.Context, actor Actor, caseID string, names []string) (*catalog.Case, error) {
	for _, n := range names {
		if err := catalog.CheckText("controller", n, 256); err != nil || n == "" {
			return nil, fmt.Errorf("invalid controller %q", catalog.Truncate(n, 40))
		}
	}
	if err := s.guard.RequireCompliance(ctx); err != nil {
		return nil, err
	}
	c, version, err := s.catalog.GetCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	var added []string
	for _, n := range names {
		if !slices.Contains(c.Controllers, n) && !slices.Contains(added, n) {
			added = append(added, n)
		}
	}
	if len(added) == 0 {
		return c, errs.Refusedf("case %s already names %s", caseID, strings.Join(names, ", "))
	}
	c.Controllers = append(c.Controllers, added...)
	if err := checkControllers(c.Controllers); err != nil {
		return nil, errs.Refusedf("case %s: %v", caseID, err)
	}
	if _, err := s.catalog.PutCase(ctx, c, version); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return nil, errs.Refusedf("case %s changed meanwhile (another operator?); run the command again", caseID)
		}
		return nil, err
	}
	_, err = s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindCaseController, Case: caseID,
		Details: map[string]string{"added": strings.Join(added, "; ")}})
	return c, err
}

// checkCloseAttestable refuses to close a case whose shred could not be
// attested: no data controller on the case or on any backup it holds.
// Closing opens key latches, which cannot be undone, so this is checked
// before anything is released.
func (s *Service) checkCloseAttestable(ctx context.Context, c *catalog.Case) error {
	if len(controllers(c, nil)) > 0 {
		return nil
	}
	backups, err := s.catalog.HeldBackups(ctx, c.ID)
	if err != nil {
		return err
	}
	if len(controllers(c, backups)) == 0 {
		return errs.Refusedf("no data controller is recorded for case %s or its backups, so their destruction could not be "+
			"attested; nothing was released: add one with `cryptoshred case controller add %s NAME`, then close the case", c.ID, c.ID)
	}
	return nil
}
