package vault_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

func TestLedgerConcurrentAppendsNeverForkOrLose(t *testing.T) {
	_, v := newLedger(t)
	ctx := context.Background()
	const writers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := v.Append(ctx, fmt.Sprintf("writer-%d", w), ledger.Event{Kind: ledger.KindBackupOpened, Details: map[string]string{"i": fmt.Sprint(i)}})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := v.Verify(ctx)
	if err != nil || rep.Entries != writers*each {
		t.Fatalf("ledger after %d appends: %+v, %v", writers*each, rep, err)
	}
	seen := map[string]bool{}
	entries, _ := v.Entries(ctx)
	for _, e := range entries {
		seen[e.Actor+"/"+e.Details["i"]] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct entries, want %d", len(seen), writers*each)
	}
}

func appendN(t *testing.T, v *ledger.Ledger, n int) {
	t.Helper()
	for i := range n {
		if _, err := v.Append(context.Background(), "t", ledger.Event{Kind: ledger.KindBackupOpened, Details: map[string]string{"i": fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
}

// rawKV edits the ledger behind cryptoshred's back, as only an attacker
// with the root token could: no role may update or delete a ledger slot.
type rawKV struct {
	t   *testing.T
	srv *vaulttest.Server
}

func (r rawKV) read(path string) map[string]any     { return r.srv.KVData(r.t, "cryptoshred/data/"+path) }
func (r rawKV) write(path string, d map[string]any) { r.srv.KVWrite(r.t, "cryptoshred/data/"+path, d) }
func (r rawKV) remove(path string)                  { r.srv.KVDelete(r.t, "cryptoshred/data/"+path) }

func TestLedgerVerifyDetectsTampering(t *testing.T) {
	cases := map[string]struct {
		tamper func(kv rawKV)
		bad    int64
	}{
		"edited entry": {func(kv rawKV) {
			d := kv.read("ledger/000000000002")
			d["entry"] = strings.Replace(d["entry"].(string), `"actor":"t"`, `"actor":"u"`, 1)
			kv.write("ledger/000000000002", d)
		}, 2},
		"edited last entry": {func(kv rawKV) {
			kv.write("ledger/000000000004", kv.read("ledger/000000000004"))
		}, 4},
		"removed entry": {func(kv rawKV) { kv.remove("ledger/000000000003") }, 3},
		"reordered entries": {func(kv rawKV) {
			a, b := kv.read("ledger/000000000002"), kv.read("ledger/000000000003")
			kv.write("ledger/000000000002", b)
			kv.write("ledger/000000000003", a)
		}, 2},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			srv, v := newLedger(t)
			appendN(t, v, 4)
			if _, err := v.Verify(context.Background()); err != nil {
				t.Fatalf("intact ledger: %v", err)
			}
			c.tamper(rawKV{t: t, srv: srv})
			_, err := v.Verify(context.Background())
			var le *ledger.BrokenError
			if !errors.As(err, &le) || !errors.Is(err, ledger.ErrBroken) || le.Seq != c.bad {
				t.Fatalf("verify after %s: %v, want first bad entry %d", name, err, c.bad)
			}
		})
	}
}

// newLedger starts a dev server, runs Init and returns the server and the
// ledger kept in its KV mount, written with the root token.
func newLedger(t *testing.T) (*vaulttest.Server, *ledger.Ledger) {
	t.Helper()
	srv := vaulttest.Start(t)
	v := vault.New(srv.Root(t), vault.DefaultMounts)
	if _, err := v.Init(context.Background()); err != nil {
		t.Fatalf("init: %v", err)
	}
	return srv, ledger.New(v, v)
}

// The hash Append returns is the one a walk computes from the stored
// bytes, and the one the head records: it names the entry in Vault's
// audit log.
func TestLedgerEntryHashIsTheChainHash(t *testing.T) {
	_, v := newLedger(t)
	ctx := context.Background()
	e, err := v.Append(ctx, "t", ledger.Event{Kind: ledger.KindBackupOpened, Backups: []string{"x"}})
	if err != nil || !strings.HasPrefix(e.Hash, "sha256:") {
		t.Fatalf("append: %+v %v", e, err)
	}
	entries, err := v.Entries(ctx)
	if err != nil || len(entries) != 1 || entries[0].Hash != e.Hash {
		t.Fatalf("entries: %+v %v", entries, err)
	}
	if rep, err := v.Verify(ctx); err != nil || rep.Head != e.Hash {
		t.Fatalf("head %+v %v, want %s", rep, err, e.Hash)
	}
}

// An append moves a stale head forward but never back: a slow appender
// must not undo a faster one's head, and a head that names entries the
// chain no longer has stays for verification to report.
func TestLedgerAppendMovesTheHeadOnlyForward(t *testing.T) {
	srv, v := newLedger(t)
	ctx := context.Background()
	appendN(t, v, 3)
	kv := rawKV{t: t, srv: srv}
	// The head is the one ledger record every role may update: the admin's
	// own token writes it here, with a plain KV call.
	admin := srv.Client(t, srv.TokenWithPolicies(t, "backup-admin", vault.PolicyAdmin)).Logical()
	writeHead := func(d map[string]any) {
		if _, err := admin.Write("cryptoshred/data/ledger/head", map[string]any{"data": d}); err != nil {
			t.Fatalf("the admin token's head write: %v", err)
		}
	}
	first := kv.read("ledger/head")
	appendN(t, v, 2)
	writeHead(first)
	appendN(t, v, 1)
	if h, err := v.ReadHead(ctx); err != nil || h.Seq != 6 {
		t.Fatalf("head after a stale head and an append: %+v %v, want entry 6", h, err)
	}
	beyond := kv.read("ledger/head")
	beyond["seq"] = 99
	writeHead(beyond)
	appendN(t, v, 1)
	if h, err := v.ReadHead(ctx); err != nil || h.Seq != 99 {
		t.Fatalf("head after an append: %+v %v, want entry 99 left for verify", h, err)
	}
	if _, err := v.Verify(ctx); !errors.Is(err, ledger.ErrBroken) {
		t.Fatalf("verify with a head beyond the chain: %v, want ErrBroken", err)
	}
}
