package shred_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

var admin = shred.Actor{DisplayName: "test-admin"}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func protect(t *testing.T, v *shred.Service, data []byte) (*catalog.Backup, string) {
	t.Helper()
	dir := t.TempDir()
	src := writeFile(t, dir, "casework.tar", data)
	b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{
		Source: src, OutDir: dir, System: "casework", Categories: []string{"health"},
	})
	if err != nil {
		t.Fatalf("protect: %v", err)
	}
	return b, src
}

func open(t *testing.T, v *shred.Service, id string) ([]byte, error) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "restored")
	_, err := v.Restore(context.Background(), admin, shred.RestoreRequest{ID: id, Purpose: "test restore", Output: out})
	if err != nil {
		if _, serr := os.Stat(out); serr == nil {
			t.Fatalf("failed open left an output file")
		}
		return nil, err
	}
	return os.ReadFile(out)
}

func TestProtectOpenRoundTrip(t *testing.T) {
	_, v := newVault(t)
	for _, size := range []int{0, 1, 64<<10 - 1, 64 << 10, 64<<10 + 1, 5<<20 + 3} {
		data := randomBytes(t, size)
		b, src := protect(t, v, data)
		got, err := open(t, v, b.ID)
		if err != nil {
			t.Fatalf("size %d: open: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: round trip differs", size)
		}
		if orig, _ := os.ReadFile(src); !bytes.Equal(orig, data) {
			t.Fatalf("size %d: protect changed the original", size)
		}
		checkDigests(t, b, data)
	}
}

func checkDigests(t *testing.T, b *catalog.Backup, data []byte) {
	t.Helper()
	sum, size, err := fsutil.FileSHA256(b.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	if sum != b.Ciphertext.SHA256 || size != b.Ciphertext.Size {
		t.Fatalf("catalog ciphertext digest %s/%d, file %s/%d", b.Ciphertext.SHA256, b.Ciphertext.Size, sum, size)
	}
	if b.Plaintext.Size != int64(len(data)) || b.State != catalog.StateProtected {
		t.Fatalf("catalog entry: %+v", b)
	}
}

func TestProtectedFileIsStandardAgeThatNeedsVault(t *testing.T) {
	_, v := newVault(t)
	b, _ := protect(t, v, []byte("names and national id numbers"))
	f, err := os.Open(b.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	other, _ := age.GenerateX25519Identity()
	_, err = age.Decrypt(f, other)
	var noMatch *age.NoIdentityMatchError
	if !errors.As(err, &noMatch) {
		t.Fatalf("stock age without Vault: %v", err)
	}
	head, _ := os.ReadFile(b.Ciphertext.Path)
	if !bytes.HasPrefix(head, []byte("age-encryption.org/v1\n-> cryptoshred "+b.Key+"\n")) {
		t.Fatalf("unexpected header: %q", head[:80])
	}
}

func TestOpenAfterKeyDeletedSaysDestroyed(t *testing.T) {
	srv, v := newVault(t)
	b, _ := protect(t, v, []byte("data"))
	root := srv.Root(t).Logical()
	if _, err := root.Write("cryptoshred-transit/keys/"+b.Key+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
		t.Fatal(err)
	}
	_, err := open(t, v, b.ID)
	if !errors.Is(err, shred.ErrKeyDestroyed) || !strings.Contains(err.Error(), "destroyed") {
		t.Fatalf("open after key deletion: %v", err)
	}
}

func TestOpenRejectsTamperedCiphertext(t *testing.T) {
	_, v := newVault(t)
	b, _ := protect(t, v, randomBytes(t, 200<<10))
	orig, _ := os.ReadFile(b.Ciphertext.Path)
	cases := map[string][]byte{
		"bit flip in payload": flip(orig, len(orig)-100),
		"bit flip in header":  flip(orig, 30),
		"truncated":           orig[:len(orig)-1000],
		"last chunk removed":  orig[:len(orig)-(8<<10+16)], // 200 KiB = 3 full chunks + 8 KiB
		"extended":            append(append([]byte{}, orig...), 0),
		"chunks reordered":    swapChunks(orig),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(b.Ciphertext.Path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := open(t, v, b.ID); err == nil {
				t.Fatal("tampered ciphertext opened")
			}
		})
	}
}

// swapChunks swaps the first two 64 KiB payload chunks, each 64 KiB plus
// a 16-byte tag, found after the header line "--- ..." and the 16-byte
// nonce.
func swapChunks(b []byte) []byte {
	start := bytes.Index(b, []byte("\n---"))
	start += bytes.IndexByte(b[start+1:], '\n') + 2 + 16
	const chunk = 64<<10 + 16
	c := append([]byte{}, b...)
	copy(c[start:], b[start+chunk:start+2*chunk])
	copy(c[start+chunk:], b[start:start+chunk])
	return c
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 1
	return c
}

func TestOpenRequiresPurpose(t *testing.T) {
	_, v := newVault(t)
	b, _ := protect(t, v, []byte("x"))
	out := filepath.Join(t.TempDir(), "o")
	_, err := v.Restore(context.Background(), admin, shred.RestoreRequest{ID: b.ID, Output: out})
	if err == nil || !strings.Contains(err.Error(), "purpose is required") {
		t.Fatalf("open without purpose: %v", err)
	}
}

func TestProtectRefusesUnknownCategory(t *testing.T) {
	_, v := newVault(t)
	dir := t.TempDir()
	src := writeFile(t, dir, "f", []byte("x"))
	_, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: dir, Categories: []string{"shoe-size"}})
	if err == nil || !strings.Contains(err.Error(), "unknown category") {
		t.Fatalf("unknown category: %v", err)
	}
}

// TestProtectResumesFromTheOutputsHeader re-runs a protect whose last
// status write was lost (the record still says protecting): the output's
// age header names the backup, which is finished instead of refused. An
// output no unfinished protect claims is refused, whatever it holds.
func TestProtectResumesFromTheOutputsHeader(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	b, src := protect(t, v, []byte("interrupted"))
	kv := asRole(t, srv, vault.PolicyAdmin)
	rec := kv.read("backups/" + b.ID)
	rec["state"] = string(catalog.StateProtecting)
	kv.mustWrite("backups/"+b.ID, rec)

	c, requests := countingClient(t, srv.Root(t))
	again, err := newService(vault.New(c, vault.DefaultMounts)).Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: filepath.Dir(b.Ciphertext.Path), System: "casework"})
	if err != nil || again.ID != b.ID {
		t.Fatalf("re-run after a lost status write: %+v %v", again, err)
	}
	for kind := range requests.kinds {
		if strings.HasPrefix(kind, "GET cryptoshred/metadata/backups") {
			t.Fatalf("the re-run listed the catalog (%s)", kind)
		}
	}
	if got, _, err := v.GetBackup(ctx, b.ID); err != nil || got.State != catalog.StateProtected {
		t.Fatalf("after the re-run: %+v %v", got, err)
	}

	done, src2 := protect(t, v, []byte("finished"))
	if _, err := v.Protect(ctx, admin, shred.ProtectRequest{Source: src2, OutDir: filepath.Dir(done.Ciphertext.Path), System: "casework", AllowDuplicate: true}); err == nil || !strings.Contains(err.Error(), "already exists: refusing to overwrite it") {
		t.Fatalf("protect over a finished backup's output: %v", err)
	}
	dir := t.TempDir()
	plain := writeFile(t, dir, "other.tar", []byte("other"))
	writeFile(t, dir, "other.tar.age", []byte("not an age file"))
	if _, err := v.Protect(ctx, admin, shred.ProtectRequest{Source: plain, OutDir: dir, System: "casework"}); err == nil || !strings.Contains(err.Error(), "already exists: refusing to overwrite it") {
		t.Fatalf("protect over a foreign file: %v", err)
	}
}

// unregister makes b a protect interrupted after its commit: its
// registration was never written (root removes it; no role may) and its
// status record says protecting; committed says whether the record keeps
// the ciphertext's location and digests, which protect writes right after
// its commit.
func unregister(t *testing.T, srv *vaulttest.Server, b *catalog.Backup, committed bool) {
	t.Helper()
	if _, err := srv.Root(t).Logical().Delete("cryptoshred/metadata/registrations/" + b.ID); err != nil {
		t.Fatal(err)
	}
	kv := asRole(t, srv, vault.PolicyAdmin)
	rec := kv.read("backups/" + b.ID)
	rec["state"] = string(catalog.StateProtecting)
	if !committed {
		rec["ciphertext"] = map[string]any{"path": b.Ciphertext.Path}
		delete(rec, "plaintext")
	}
	kv.mustWrite("backups/"+b.ID, rec)
}

// A protect interrupted after its ciphertext was committed but before it
// recorded the commit (the record says protecting, unregistered, with no
// digests) is restarted by a re-run: the output its header ties to that
// backup is removed and written again, and the backup is registered and
// opens.
func TestProtectRestartsAnUnregisteredOutput(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	b, src := protect(t, v, []byte("cut before registration"))
	unregister(t, srv, b, false)
	before, err := os.ReadFile(b.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}

	again, err := v.Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: filepath.Dir(b.Ciphertext.Path), System: "casework", AllowDuplicate: true})
	if err != nil || again.ID != b.ID || !again.Registered {
		t.Fatalf("re-run of an unregistered protect: %+v %v", again, err)
	}
	// A new encryption has a new file key, so other bytes.
	if after, err := os.ReadFile(b.Ciphertext.Path); err != nil || bytes.Equal(before, after) {
		t.Fatalf("the unfinished output was not written again: %v", err)
	}
	got, err := open(t, v, b.ID)
	if err != nil || string(got) != "cut before registration" {
		t.Fatalf("open after the restart: %q %v", got, err)
	}
}
