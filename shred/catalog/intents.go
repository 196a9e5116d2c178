package catalog

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"
)

// Intent is a shred run's record, written once per batch before it
// deletes the batch's keys, of the keys it is about to delete. A run
// stopped after a deletion and before its destruction record (Destructions)
// leaves a key gone and no record that says so; the next run's plan finds
// the backup here and finishes recording its destruction, where a key
// gone with no intent on record is reported for investigation.
//
// An intent is written by the backup-admin role, which may also delete a
// released key with a plain Vault call, so it says no more than a status
// record would: it never lets a key be deleted, only a deletion that
// already happened be recorded.
type Intent struct {
	Case string    `json:"case"`
	By   string    `json:"by"`
	At   time.Time `json:"at"`
	// Versions are, by backup id, the key versions about to be destroyed.
	Versions map[string][]int `json:"versions"`
}

func intentDir(caseID string) string { return "intents/" + caseID + "/" }

// PutIntent stores in under a new name in its case's directory; a name is
// never written twice.
func (c *Catalog) PutIntent(ctx context.Context, in *Intent) error {
	if err := CheckID("case", in.Case); err != nil {
		return err
	}
	_, err := PutJSON(ctx, c.store, intentDir(in.Case)+intentName(in.At), in, 0)
	if err != nil {
		return fmt.Errorf("failed to record the keys about to be destroyed: %w", err)
	}
	return nil
}

// intentName sorts by time; the random suffix keeps two runs' names apart.
func intentName(at time.Time) string {
	return at.UTC().Format("20060102T150405.000000Z") + "-" + rand.Text()[:10]
}

// CaseIntents returns, by backup id, the intents recorded for caseID. A
// record that is malformed or names another case is left out: it can only
// keep a destruction from being recorded, never cause one.
func (c *Catalog) CaseIntents(ctx context.Context, caseID string) (map[string]*Intent, error) {
	intents, err := caseRecords(ctx, c, intentDir(caseID), caseID, "intent", func(in *Intent) string { return in.Case })
	out := map[string]*Intent{}
	for _, in := range intents {
		if in == nil { // its read failed, and err says why
			continue
		}
		for id := range in.Versions {
			if ValidID(id) {
				out[id] = in
			}
		}
	}
	return out, err
}
