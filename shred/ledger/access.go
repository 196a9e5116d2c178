package ledger

import "time"

// Access is one recorded open of a backup.
type Access struct {
	At      time.Time `json:"at"`
	Who     string    `json:"who"`
	Backup  string    `json:"backup"`
	Purpose string    `json:"purpose"`
	// Output is where the plaintext went: a file's absolute path, or
	// "stdout"; empty for opens recorded before outputs were.
	Output string `json:"output,omitempty"`
	Seq    int64  `json:"ledgerSeq"`
	Hash   string `json:"ledgerHash"`
}

// Accesses lists every open among entries since from, each dated by
// Entry.At; a zero from means all.
func Accesses(entries []*Entry, from time.Time) []Access {
	var out []Access
	for _, e := range entries {
		if e.Kind != KindBackupOpened || e.At().Before(from) {
			continue
		}
		for _, id := range e.Backups {
			out = append(out, Access{At: e.At(), Who: e.Actor, Backup: id, Purpose: e.Details["purpose"], Output: e.Details["output"], Seq: e.Seq, Hash: e.Hash})
		}
	}
	return out
}
