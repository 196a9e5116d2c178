package vault_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// Listings leave out what a verified entry of the same kind and case
// listed after the point given, and nothing else: not another case's
// listing, not another kind's, and not an entry a backup-admin wrote by
// hand with a malformed signature, with the compliance key's signature,
// or signed with the admin key but linked to another slot.
func TestListingsLeaveOutWhatAnotherWriterListed(t *testing.T) {
	srv, l := newLedger(t)
	ctx := context.Background()
	appendN(t, l, 2)
	since, err := l.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	destroyed := func(caseID string, ids ...string) ledger.Event {
		return ledger.Event{Kind: ledger.KindKeyDestroyed, Case: caseID, Backups: ids}
	}
	for _, ev := range []ledger.Event{destroyed("C", "a"), destroyed("OTHER", "b"), {Kind: ledger.KindBackupOpened, Case: "C", Backups: []string{"c"}}} {
		if _, err := l.Append(ctx, "other-run", ev); err != nil {
			t.Fatal(err)
		}
	}
	admin := srv.Client(t, srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin))
	forge := forger{t: t, l: l, write: admin.Logical().Write, sign: vault.New(srv.Root(t), vault.DefaultMounts).Sign}
	forge.entry(destroyed("C", "d"), ledger.RoleAdmin, func(string) string { return "vault:v1:AAAA" }, "")
	forge.entry(destroyed("C", "e"), ledger.RoleCompliance, nil, "")
	forge.entry(destroyed("C", "f"), ledger.RoleAdmin, nil, ledger.Genesis)

	e, others, err := l.Listings(since, ledger.KindKeyDestroyed, "C").AppendUnlisted(ctx, "this-run", []string{"a", "b", "c", "d", "e", "f", "g"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Backups, []string{"b", "c", "d", "e", "f", "g"}) || !slices.Equal(others, []string{"a"}) {
		t.Fatalf("listed %v, left out %v; want b to g listed and a left out", e.Backups, others)
	}
	if rep, err := l.Verify(ctx); err == nil || rep.FirstBad != 0 || len(rep.Findings) != 3 {
		t.Fatalf("verify: %+v %v; want the three forged slots as its only findings", rep, err)
	}
}

// forger fills the next ledger slot by hand, through write (a role
// token's plain KV write).
type forger struct {
	t     *testing.T
	l     *ledger.Ledger
	write func(string, map[string]any) (*api.Secret, error)
	sign  func(context.Context, string, []byte) (string, error)
}

// entry writes ev as the next slot's entry, signed with role's key unless
// sig replaces the signature, and linked to the slot before it unless
// prev names another hash.
func (f forger) entry(ev ledger.Event, role string, sig func(string) string, prev string) {
	f.t.Helper()
	ctx := context.Background()
	end, err := f.l.End(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, err := json.Marshal(ledger.Entry{Seq: end.Seq + 1, Prev: cmp.Or(prev, end.Hash), Time: time.Now().UTC(), Actor: "by-hand",
		Kind: ev.Kind, Case: ev.Case, Backups: ev.Backups})
	if err != nil {
		f.t.Fatal(err)
	}
	signature, err := f.sign(ctx, role, raw)
	if err != nil {
		f.t.Fatal(err)
	}
	if sig != nil {
		signature = sig(signature)
	}
	slot := map[string]any{"entry": string(raw), "sig": signature}
	if _, err := f.write(fmt.Sprintf("cryptoshred/data/ledger/%012d", end.Seq+1), map[string]any{"data": slot, "options": map[string]any{"cas": 0}}); err != nil {
		f.t.Fatal(err)
	}
}

// An entry that takes the slot an append wanted is read before the
// append tries the next one: what it listed is left out there.
func TestListingsCheckAgainWhenAnotherWriterTakesTheSlot(t *testing.T) {
	srv, _ := newLedger(t)
	ctx := context.Background()
	client := vault.New(srv.Root(t), vault.DefaultMounts)
	l := ledger.New(client, client)
	racing := &shredtest.BeforeWrite{Store: client, Prefix: "ledger/0", Before: func() {
		if _, err := l.Append(ctx, "other-run", ledger.Event{Kind: ledger.KindKeyDestroyed, Case: "C", Backups: []string{"a"}}); err != nil {
			t.Error(err)
		}
	}}
	since, err := l.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, others, err := ledger.New(racing, client).Listings(since, ledger.KindKeyDestroyed, "C").AppendUnlisted(ctx, "this-run", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(e.Backups, []string{"b"}) || !slices.Equal(others, []string{"a"}) || e.Seq != since.Seq+2 {
		t.Fatalf("entry %d listing %v, left out %v; want entry %d listing b, a left out", e.Seq, e.Backups, others, since.Seq+2)
	}
	e, others, err = ledger.New(client, client).Listings(since, ledger.KindKeyDestroyed, "C").AppendUnlisted(ctx, "late-run", []string{"b", "a"})
	if err != nil || e != nil || !slices.Equal(others, []string{"b", "a"}) {
		t.Fatalf("every backup listed already: appended %+v, left out %v, %v", e, others, err)
	}
}

// What another writer listed more than one read window after the point
// given is still found: the catch-up reads window after window.
func TestListingsReadPastAWindow(t *testing.T) {
	_, l := newLedger(t)
	ctx := context.Background()
	since, err := l.End(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 70)
	if _, err := l.Append(ctx, "other-run", ledger.Event{Kind: ledger.KindKeyDestroyed, Case: "C", Backups: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	e, others, err := l.Listings(since, ledger.KindKeyDestroyed, "C").AppendUnlisted(ctx, "this-run", []string{"a", "b"})
	if err != nil || !slices.Equal(e.Backups, []string{"b"}) || !slices.Equal(others, []string{"a"}) || e.Seq != since.Seq+72 {
		t.Fatalf("entry %+v, left out %v, %v; want entry %d listing b", e, others, err, since.Seq+72)
	}
}
