package shred

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Case states.
const (
	CaseOpen    = "open"
	CaseClosing = "closing"
	CaseClosed  = "closed"
)

// Case is a data protection authority's case, stored at KV cases/<id>.
type Case struct {
	ID        string `json:"id"`
	Authority string `json:"authority"`
	Reference string `json:"reference"`
	// Controllers are the data controllers the case concerns; a ministry
	// and its agencies may share one case.
	Controllers []string  `json:"controllers,omitempty"`
	State       string    `json:"state"`
	OpenedAt    time.Time `json:"openedAt"`
	OpenedBy    string    `json:"openedBy"`
	Decision    *Decision `json:"decision,omitempty"`
	ClosedAt    time.Time `json:"closedAt,omitzero"`
}

// Decision is the authority's closing decision.
type Decision struct {
	Reference  string      `json:"reference"`
	Document   DocumentRef `json:"document"`
	RecordedBy string      `json:"recordedBy"`
	RecordedAt time.Time   `json:"recordedAt"`
}

func casePath(id string) string { return "cases/" + id }

// OpenCase registers a new case. An existing id is refused.
func (v *Vault) OpenCase(ctx context.Context, actor Actor, c Case) (*Case, error) {
	if err := checkCase(c); err != nil {
		return nil, err
	}
	c.State, c.OpenedAt, c.OpenedBy, c.Decision, c.ClosedAt = CaseOpen, now(), actor.String(), nil, time.Time{}
	if _, err := v.putJSON(ctx, casePath(c.ID), c, 0); err != nil {
		if errors.Is(err, ErrConflict) {
			return nil, refusedf("case %s already exists", c.ID)
		}
		return nil, err
	}
	_, err := v.Append(ctx, actor.String(), Event{Event: EventCaseOpened, Case: c.ID,
		Details: map[string]string{"authority": c.Authority, "reference": c.Reference}})
	return &c, err
}

func checkCase(c Case) error {
	if err := checkID("case", c.ID); err != nil {
		return err
	}
	if c.Authority == "" || c.Reference == "" {
		return errors.New("a case needs an authority and a reference")
	}
	if err := CheckText("authority", c.Authority, 256); err != nil {
		return err
	}
	for _, ctl := range c.Controllers {
		if err := CheckText("controller", ctl, 256); err != nil || ctl == "" {
			return fmt.Errorf("invalid controller %q", truncate(ctl, 40))
		}
	}
	return CheckText("reference", c.Reference, 256)
}

// GetCase reads a case and its KV version.
func (v *Vault) GetCase(ctx context.Context, id string) (*Case, int, error) {
	if err := checkID("case", id); err != nil {
		return nil, 0, err
	}
	var c Case
	version, err := v.getJSON(ctx, casePath(id), &c)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, fmt.Errorf("case %s: %w", id, ErrNotFound)
	}
	if err == nil && c.ID != id {
		return nil, 0, fmt.Errorf("catalog entry cases/%s holds id %q: the catalog was edited", id, c.ID)
	}
	return &c, version, err
}

// ListCases returns every case.
func (v *Vault) ListCases(ctx context.Context) ([]*Case, error) {
	ids, err := v.kvList(ctx, "cases/")
	if err != nil {
		return nil, err
	}
	return parallelMap(ctx, ids, 16, func(ctx context.Context, id string) (*Case, error) {
		c, _, err := v.GetCase(ctx, id)
		return c, err
	})
}
