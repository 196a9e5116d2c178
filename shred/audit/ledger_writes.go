package audit

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Mounts name the Vault mounts whose requests a Log follows.
type Mounts struct {
	// Transit is the mount of the backup keys, whose unwraps are counted.
	Transit string
	// KV is the catalog's KV v2 mount, whose ledger slot writes date
	// each ledger entry by Vault's clock.
	KV string
}

// ledgerWrites follows the writes of ledger slots in an audit log: when
// Vault received each write of a slot that it answered without an error.
// An entry's own time is what its writer's client said; this one is
// Vault's, so an open written after an unwrap cannot be passed off as
// having come first by dating it earlier.
type ledgerWrites struct {
	prefix  string
	pending map[string]slotWrite // request seen, response not yet, by request id
	written map[int64]time.Time
}

type slotWrite struct {
	seq int64
	at  time.Time
}

func newLedgerWrites(kvMount string) *ledgerWrites {
	return &ledgerWrites{prefix: kvMount + "/data/ledger/", pending: map[string]slotWrite{}, written: map[int64]time.Time{}}
}

// mentioned reports whether raw may be a request on a ledger slot.
func (w *ledgerWrites) mentioned(raw []byte) bool {
	return bytes.Contains(raw, []byte(`"`+w.prefix))
}

// add takes one audit line that may write a ledger slot. A write counts
// from its request's time once its response carries no error; a response
// whose request line is not in the logs counts from its own time.
func (w *ledgerWrites) add(raw []byte) {
	obj, err := jsonObject(raw)
	var r rawLine
	if err != nil || json.Unmarshal(obj, &r) != nil || r.check() != nil {
		return
	}
	seq, ok := w.slot(r.Request.Path)
	if !ok || r.Request.Operation != "create" && r.Request.Operation != "update" {
		return
	}
	if r.Type == TypeRequest {
		w.pending[r.Request.ID] = slotWrite{seq, r.Time.UTC()}
		return
	}
	req, seen := w.pending[r.Request.ID]
	delete(w.pending, r.Request.ID)
	if !seen {
		req = slotWrite{seq, r.Time.UTC()}
	}
	if at, ok := w.written[seq]; r.Error == "" && (!ok || req.at.Before(at)) {
		w.written[seq] = req.at
	}
}

// slot returns the sequence number of the ledger slot path names.
func (w *ledgerWrites) slot(path string) (int64, bool) {
	digits, ok := strings.CutPrefix(path, w.prefix)
	if !ok || len(digits) != 12 {
		return 0, false
	}
	seq, err := strconv.ParseInt(digits, 10, 64)
	return seq, err == nil
}
