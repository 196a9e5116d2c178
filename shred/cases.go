package shred

import (
	"context"
	"errors"
	"fmt"
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
