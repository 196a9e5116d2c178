package shred_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// An admin token appends, with plain Vault calls, a well-linked entry that
// claims the compliance officer opened a case, signed with the only ledger
// key it may use (its own): ledger verify names the entry and exits as
// broken, and the forged entry is not taken as a fact.
func TestForgedEntryInAnotherRolesName(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	openCase(t, complianceV, "REAL")
	rep, err := adminV.VerifyLedger(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	admin := asRole(t, srv, vault.PolicyAdmin)
	entry, _ := json.Marshal(map[string]any{"seq": rep.Entries + 1, "prev": rep.Head, "time": "2026-11-28T10:00:00Z",
		"actor": "compliance-officer", "event": "case.closed", "case": "REAL"})
	if _, err := admin.l.Write("cryptoshred-ledger/sign/ledger-compliance", map[string]any{"input": base64.StdEncoding.EncodeToString(entry)}); err == nil {
		t.Fatal("the admin token signed with the compliance key")
	}
	sec, err := admin.l.Write("cryptoshred-ledger/sign/ledger-admin", map[string]any{"input": base64.StdEncoding.EncodeToString(entry)})
	if err != nil {
		t.Fatal(err)
	}
	admin.mustWrite(slotPath(rep.Entries+1), map[string]any{"entry": string(entry), "sig": sec.Data["signature"]})

	_, err = adminV.VerifyLedger(context.Background())
	want := fmt.Sprintf("ledger slot %d is a case.closed entry whose signature does not verify with the compliance key", rep.Entries+1)
	if !errors.Is(err, shred.ErrLedgerBroken) || !strings.Contains(err.Error(), want) {
		t.Fatalf("verify after a forged entry: %v\nwant it to name: %s", err, want)
	}
	entries, err := adminV.Entries(context.Background())
	if err != nil || entries[len(entries)-1].Kind == "case.closed" {
		t.Fatalf("the forged entry was taken as a fact: %v", err)
	}
	openCase(t, complianceV, "AFTER") // appends go on after it
}
