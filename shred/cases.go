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

// Case states.
// OpenCase registers a new case. An existing id is refused.
func (s *Service) OpenCase(ctx context.Context, actor Actor, c catalog.Case) (*catalog.Case, error) {
	if err := checkCase(c); err != nil {
		return nil, err
	}
	c.State, c.OpenedAt, c.OpenedBy, c.Decision, c.ClosedAt = catalog.CaseOpen, catalog.Now(), actor.String(), nil, time.Time{}
	if _, err := s.catalog.PutCase(ctx, &c, 0); err != nil {
		if errors.Is(err, errs.ErrConflict) {
			return nil, errs.Refusedf("case %s already exists", c.ID)
		}
		return nil, err
	}
	_, err := s.ledger.Append(ctx, actor.String(), ledger.Event{Kind: ledger.KindCaseOpened, Case: c.ID,
		Details: map[string]string{"authority": c.Authority, "reference": c.Reference}})
	return &c, err
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
