package shred

import (
	"context"
	"time"
)

// Access is one recorded open of a backup.
type Access struct {
	At      time.Time `json:"at"`
	Who     string    `json:"who"`
	Backup  string    `json:"backup"`
	Purpose string    `json:"purpose"`
	Seq     int64     `json:"ledgerSeq"`
}

// AccessReport lists every open recorded in the (verified) ledger since
// from; a zero from means all.
func (v *Vault) AccessReport(ctx context.Context, from time.Time) ([]Access, error) {
	entries, err := v.Entries(ctx)
	if err != nil {
		return nil, err
	}
	var out []Access
	for _, e := range entries {
		if e.Event != EventBackupOpened || e.Time.Before(from) {
			continue
		}
		for _, id := range e.Backups {
			out = append(out, Access{At: e.Time, Who: e.Actor, Backup: id, Purpose: e.Details["purpose"], Seq: e.Seq})
		}
	}
	return out, nil
}
