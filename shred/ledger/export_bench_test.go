package ledger_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// BenchmarkVerifyExport10k verifies an export of 10,000 entries, each
// signed with a real ed25519 key as Vault Transit signs them: the work an
// authority's laptop does offline.
func BenchmarkVerifyExport10k(b *testing.B) {
	data := syntheticExport(b, 10000)
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		x, err := ledger.ReadExport(bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		rep, err := ledger.Verify(context.Background(), x)
		if err != nil || rep.Entries != 10000 {
			b.Fatalf("%+v %v", rep, err)
		}
		fmt.Printf("ledger verify --file: %d entries (%d KiB) in %v\n", rep.Entries, len(data)>>10, time.Since(start).Round(time.Millisecond))
	}
}

func syntheticExport(b *testing.B, n int) []byte {
	return marshalExport(b, newSigner(b).export(b, n, "bench"))
}

// signer signs ledger entries with a real ed25519 key, as Vault Transit
// signs them.
type signer struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newSigner(tb testing.TB) signer {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return signer{pub: pub, priv: priv}
}

// export returns a whole-ledger export of n entries by actor, signed for
// the admin and compliance roles.
func (s signer) export(tb testing.TB, n int, actor string) *ledger.Export {
	x := &ledger.Export{Format: ledger.ExportFormat, ExportedAt: time.Now().UTC(),
		Keys: map[string]map[int][]byte{ledger.RoleAdmin: {1: s.pub}, ledger.RoleCompliance: {1: s.pub}}, Head: ledger.Head{Hash: ledger.Genesis}}
	s.extend(tb, x, n, actor)
	return x
}

// extend appends n signed entries of x's case to x, the first linking to
// its last slot, whatever that holds.
func (s signer) extend(tb testing.TB, x *ledger.Export, n int, actor string) {
	prev := ledger.Genesis
	if last := len(x.Slots); last > 0 {
		prev = ledger.HashEntry([]byte(x.Slots[last-1].Entry))
	}
	for seq := int64(len(x.Slots) + 1); n > 0; seq, n = seq+1, n-1 {
		e := ledger.Entry{Seq: seq, Prev: prev, Time: time.Now().UTC(), Actor: actor, Kind: ledger.KindBackupOpened, Case: x.Case,
			Backups: []string{fmt.Sprintf("bk-%07d", seq)}, Details: map[string]string{"purpose": "benchmark"}}
		raw, err := json.Marshal(e)
		if err != nil {
			tb.Fatal(err)
		}
		sig := "vault:v1:" + base64.StdEncoding.EncodeToString(ed25519.Sign(s.priv, raw))
		x.Slots = append(x.Slots, ledger.ExportSlot{Seq: seq, Entry: string(raw), Sig: sig})
		prev = ledger.HashEntry(raw)
		x.Head = ledger.Head{Seq: seq, Hash: prev}
	}
}

func marshalExport(tb testing.TB, x *ledger.Export) []byte {
	data, err := json.Marshal(x)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}
