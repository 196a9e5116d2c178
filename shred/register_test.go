package shred_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"filippo.io/age"
	"filippo.io/age/armor"

	"github.com/cryptoshred/cryptoshred/internal/fsutil"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// ageFileTo writes data as an age file encrypted to recipients and
// returns its path.
func ageFileTo(t *testing.T, data []byte, recipients ...age.Recipient) string {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil || w.Close() != nil {
		t.Fatalf("encrypt: %v", err)
	}
	return writeFile(t, t.TempDir(), "backup.tar.age", buf.Bytes())
}

// newBackupKey creates a per-backup key as the admin and returns its name.
func newBackupKey(t *testing.T, v *shred.Service) string {
	t.Helper()
	name := catalog.NewBackupID()
	if err := v.CreateKey(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestRegisterAdoptsAgeFileWrappedToBackupKey(t *testing.T) {
	srv, _ := newVault(t)
	v := roleVault(t, srv, vault.PolicyAdmin)
	ctx := context.Background()
	key := newBackupKey(t, v)
	data := randomBytes(t, 100000)
	path := ageFileTo(t, data, agefile.NewRecipient(ctx, rootKeys(t, srv), key))
	b, err := v.Register(ctx, admin, shred.RegisterRequest{File: path, System: "casework", Categories: []string{"health"}})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	checkRegistered(t, v, b, key, path)
	if got, err := open(t, v, key); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open of the registered file: %v", err)
	}
	_, err = v.Register(ctx, admin, shred.RegisterRequest{File: path})
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "already in the catalog") {
		t.Fatalf("second register: %v", err)
	}
}

// An armored age file (age -a) is registered and opens like a binary one.
func TestRegisteredArmoredFileOpens(t *testing.T) {
	data := randomBytes(t, 100000)
	v, key, _, _ := registeredArmoredFile(t, data)
	if got, err := open(t, v, key); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("open of the registered armored file: %v", err)
	}
}

// registeredArmoredFile encrypts data, armored, under a new backup key,
// registers the file with the admin's token and returns that service,
// the key, the file's path and its bytes.
func registeredArmoredFile(t *testing.T, data []byte) (v *shred.Service, key, path string, armored []byte) {
	t.Helper()
	srv, _ := newVault(t)
	v = roleVault(t, srv, vault.PolicyAdmin)
	ctx := context.Background()
	key = newBackupKey(t, v)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, agefile.NewRecipient(ctx, rootKeys(t, srv), key))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil || w.Close() != nil || aw.Close() != nil {
		t.Fatalf("encrypt: %v", err)
	}
	path = writeFile(t, t.TempDir(), "backup.tar.age", buf.Bytes())
	if _, err := v.Register(ctx, admin, shred.RegisterRequest{File: path}); err != nil {
		t.Fatalf("register an armored file: %v", err)
	}
	return v, key, path, buf.Bytes()
}

// A registered armored file tampered with after registration (its closing
// line rewritten to hold a token) fails to open without the error quoting
// the line, since a registration can point at any file; a line of 8 MiB
// fails too, without being read whole.
func TestTamperedArmoredFileErrorQuotesNothing(t *testing.T) {
	v, key, path, armored := registeredArmoredFile(t, randomBytes(t, 1000))
	footer := []byte("-----END AGE ENCRYPTED FILE-----")
	for name, tampered := range map[string][]byte{
		"closing line": bytes.Replace(armored, footer, []byte("-----END hvs.secret-token-----"), 1),
		"long line":    bytes.Replace(armored, footer, append(bytes.Repeat([]byte("hvs.secret"), 800_000), footer...), 1),
	} {
		if err := os.WriteFile(path, tampered, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := open(t, v, key); err == nil || strings.Contains(err.Error(), "secret") || !strings.Contains(err.Error(), "armor is malformed") {
			t.Errorf("open of an armored file with a tampered %s: %v", name, err)
		}
	}
}

func checkRegistered(t *testing.T, v *shred.Service, b *catalog.Backup, key, path string) {
	t.Helper()
	sum, size, _ := fsutil.FileSHA256(path)
	if b.ID != key || b.Key != key || b.State != catalog.StateProtected || b.System != "casework" {
		t.Fatalf("registered backup: %+v", b)
	}
	if b.Ciphertext.SHA256 != sum || b.Ciphertext.Size != size || b.Ciphertext.Path != path || b.Name != "backup.tar.age" {
		t.Fatalf("ciphertext %+v, want %s %d %s", b.Ciphertext, sum, size, path)
	}
	if o := b.Original; o == nil || !o.EncryptedAfterFirstStorage || o.Path != "" {
		t.Fatalf("original: %+v", b.Original)
	}
	if stored, _, err := v.GetBackup(context.Background(), key); err != nil || stored.Ciphertext.SHA256 != sum {
		t.Fatalf("catalog entry: %+v %v", stored, err)
	}
	entries, err := v.Entries(context.Background())
	if err != nil || entries[len(entries)-1].Kind != ledger.KindBackupRegistered || entries[len(entries)-1].Backups[0] != key {
		t.Fatalf("ledger: %v", err)
	}
}

func TestDisposeOriginalOfRegisteredBackupRecordsDeclaration(t *testing.T) {
	srv, _ := newVault(t)
	v := roleVault(t, srv, vault.PolicyAdmin)
	ctx := context.Background()
	key := newBackupKey(t, v)
	path := ageFileTo(t, []byte("x"), agefile.NewRecipient(ctx, rootKeys(t, srv), key))
	if _, err := v.Register(ctx, admin, shred.RegisterRequest{File: path}); err != nil {
		t.Fatal(err)
	}
	b, err := v.DisposeOriginal(ctx, admin, shred.DisposeRequest{ID: key, Method: "deleted", Note: "staging copy removed by the backup job"})
	if err != nil || b.Original.Disposal == nil || b.Original.Disposal.Method != "deleted" {
		t.Fatalf("dispose: %+v %v", b, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("dispose-original touched the ciphertext: %v", err)
	}
}

// forgedRecipient writes a cryptoshred stanza naming key without asking
// Vault, as a hand-made header would.
type forgedRecipient struct{ key string }

func (f forgedRecipient) Wrap([]byte) ([]*age.Stanza, error) {
	return []*age.Stanza{{Type: agefile.StanzaType, Args: []string{f.key}, Body: []byte("vault:v1:AAAA")}}, nil
}

func TestRegisterRefuses(t *testing.T) {
	srv, _ := newVault(t)
	v := roleVault(t, srv, vault.PolicyAdmin)
	ctx := context.Background()
	x, _ := age.GenerateX25519Identity()
	rawKey := func(name string, params map[string]any) string {
		if _, err := srv.Root(t).Logical().Write("cryptoshred-transit/keys/"+name, params); err != nil {
			t.Fatal(err)
		}
		return name
	}
	exportable := rawKey(catalog.NewBackupID(), map[string]any{"type": "aes256-gcm96", "exportable": true})
	unlatched := newBackupKey(t, v)
	if err := rootKeys(t, srv).AllowDeletion(ctx, unlatched); err != nil {
		t.Fatal(err)
	}
	k1, k2 := newBackupKey(t, v), newBackupKey(t, v)
	for name, tc := range map[string]struct {
		recipients []age.Recipient
		want       string
	}{
		"x25519 too":       {[]age.Recipient{agefile.NewRecipient(ctx, rootKeys(t, srv), k1), x.Recipient()}, `"X25519" recipient stanza`},
		"two keys":         {[]age.Recipient{agefile.NewRecipient(ctx, rootKeys(t, srv), k1), agefile.NewRecipient(ctx, rootKeys(t, srv), k2)}, "2 cryptoshred keys"},
		"not a backup key": {[]age.Recipient{agefile.NewRecipient(ctx, rootKeys(t, srv), rawKey("casework", map[string]any{"type": "aes256-gcm96"}))}, `must start with "bk-"`},
		"unknown key":      {[]age.Recipient{forgedRecipient{"bk-01nosuchkey"}}, "not in Vault"},
		"exportable key":   {[]age.Recipient{agefile.NewRecipient(ctx, rootKeys(t, srv), exportable)}, "is exportable"},
		"deletion allowed": {[]age.Recipient{agefile.NewRecipient(ctx, rootKeys(t, srv), unlatched)}, "already allows deletion"},
	} {
		path := ageFileTo(t, []byte("data"), tc.recipients...)
		_, err := v.Register(ctx, admin, shred.RegisterRequest{File: path})
		if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want a refusal saying %q", name, err, tc.want)
		}
	}
	if list, _, _ := v.ListBackups(ctx, catalog.BackupFilter{}); len(list) != 0 {
		t.Fatalf("refused files were registered: %d", len(list))
	}
}

func TestRegisterRejectsWhatIsNotAnAgeFile(t *testing.T) {
	srv, _ := newVault(t)
	v := roleVault(t, srv, vault.PolicyAdmin)
	dir := t.TempDir()
	for _, path := range []string{writeFile(t, dir, "plain.tar", []byte("not encrypted\n")), dir, filepath.Join(dir, "missing.age")} {
		_, err := v.Register(context.Background(), admin, shred.RegisterRequest{File: path})
		if err == nil || errors.Is(err, shred.ErrRefused) {
			t.Errorf("%s: %v", path, err)
		}
	}
	_, err := v.Register(context.Background(), admin, shred.RegisterRequest{File: "f", Categories: []string{"shoe-size"}})
	if err == nil || !strings.Contains(err.Error(), "unknown category") {
		t.Fatalf("bad category: %v", err)
	}
}

func TestRegisterNeedsTheAdminRole(t *testing.T) {
	srv, _ := newVault(t)
	v := roleVault(t, srv, vault.PolicyAuditor)
	_, err := v.Register(context.Background(), admin, shred.RegisterRequest{File: "f.age"})
	if !errors.Is(err, shred.ErrRefused) {
		t.Fatalf("auditor register: %v", err)
	}
}

// x25519File returns data encrypted to a fresh X25519 identity, armored
// if asked.
func x25519File(t *testing.T, armored bool) []byte {
	t.Helper()
	x, _ := age.GenerateX25519Identity()
	var buf bytes.Buffer
	var dst io.Writer = &buf
	aw := armor.NewWriter(&buf)
	if armored {
		dst = aw
	}
	w, err := age.Encrypt(dst, x.Recipient())
	if err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	if armored && aw.Close() != nil {
		t.Fatal("armor")
	}
	return buf.Bytes()
}

func TestHeaderStanzasOfBinaryAndArmoredFiles(t *testing.T) {
	for name, data := range map[string][]byte{
		"binary":  x25519File(t, false),
		"armored": append([]byte("\n\n"), x25519File(t, true)...),
	} {
		stanzas, err := agefile.HeaderStanzas(bytes.NewReader(data))
		if err != nil || len(stanzas) != 1 || stanzas[0].Type != "X25519" {
			t.Errorf("%s: %v %v", name, stanzas, err)
		}
	}
	if _, err := agefile.HeaderStanzas(strings.NewReader("age-encryption.org/v1\n")); err == nil || !strings.Contains(err.Error(), "not an age file") {
		t.Fatalf("truncated header: %v", err)
	}
}

// failingStatusWrite is the admin's Vault, whose writes of status records
// fail: a register stopped between its registration and its status write.
type failingStatusWrite struct{ *vault.Client }

func (f failingStatusWrite) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	if strings.HasPrefix(path, "backups/") {
		return 0, errors.New("stopped")
	}
	return f.Client.Put(ctx, path, data, cas)
}

// TestInterruptedRegisterIsStillHeld: a register stopped after its
// registration and before its status record leaves a registered backup
// with no status. The listing by system reports it, and a hold by system
// or by id holds it as its registration has it, saying that its status
// does not show the hold: a missing status hides no backup from a hold.
func TestInterruptedRegisterIsStillHeld(t *testing.T) {
	srv, _ := newVault(t)
	ctx := context.Background()
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	stopped := shred.New(shred.Config{Records: failingStatusWrite{vc}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	complianceV := roleVault(t, srv, vault.PolicyCompliance)
	other := protectIn(t, roleVault(t, srv, vault.PolicyAdmin), "casework", []byte("another casework backup"))
	key := newBackupKey(t, stopped)
	path := ageFileTo(t, []byte("registered data"), agefile.NewRecipient(ctx, rootKeys(t, srv), key))
	if _, err := stopped.Register(ctx, admin, shred.RegisterRequest{File: path, System: "casework"}); err == nil {
		t.Fatal("a register whose status write failed succeeded")
	}
	list, skipped, err := complianceV.ListBackups(ctx, catalog.BackupFilter{System: "casework"})
	if err != nil || len(list) != 1 || len(skipped) != 1 || skipped[0].ID != key || !strings.Contains(skipped[0].Error(), "registered") {
		t.Fatalf("list --system casework: %d backups, skipped %v, %v; want %s listed and %s reported", len(list), skipped, err, other.ID, key)
	}
	openCase(t, complianceV, "LIT")
	held, err := complianceV.PlaceHolds(ctx, compliance, "LIT", shred.HoldSelector{System: "casework"})
	if !slices.Contains(held, key) || !slices.Contains(held, other.ID) || err == nil || !strings.Contains(err.Error(), "status record does not show it") {
		t.Fatalf("hold by system: held %v, %v; want %s and %s held, and the missing status reported", held, err, other.ID, key)
	}
	openCase(t, complianceV, "LIT-2")
	if held, err := complianceV.PlaceHolds(ctx, compliance, "LIT-2", shred.HoldSelector{IDs: []string{key}}); !slices.Equal(held, []string{key}) {
		t.Fatalf("hold by id: held %v, %v", held, err)
	}
	if res := closeCase(t, complianceV, "LIT-2"); !slices.Equal(res.StillHeld, []string{key}) || !slices.Equal(res.StatusUnreadable, []string{key}) {
		t.Fatalf("close of LIT-2 kept %v, status unreadable %v; want %s kept (LIT holds it) and named", res.StillHeld, res.StatusUnreadable, key)
	}
	if res := closeCase(t, complianceV, "LIT"); !slices.Contains(res.Released, key) || !slices.Equal(res.StatusUnreadable, []string{key}) {
		t.Fatalf("close of LIT released %v, status unreadable %v; want %s released and named", res.Released, res.StatusUnreadable, key)
	}
}

// TestInterruptedRegisterRunAgainWritesTheStatus: a register stopped
// before its status write, run again as the listing advises, finishes:
// the backup is then listed with its status.
func TestInterruptedRegisterRunAgainWritesTheStatus(t *testing.T) {
	srv, _ := newVault(t)
	ctx := context.Background()
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	stopped := shred.New(shred.Config{Records: failingStatusWrite{vc}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	adminV := roleVault(t, srv, vault.PolicyAdmin)
	key := newBackupKey(t, adminV)
	path := ageFileTo(t, []byte("registered data"), agefile.NewRecipient(ctx, rootKeys(t, srv), key))
	req := shred.RegisterRequest{File: path, System: "casework"}
	if _, err := stopped.Register(ctx, admin, req); err == nil {
		t.Fatal("a register whose status write failed succeeded")
	}
	if _, err := adminV.Register(ctx, admin, req); err != nil {
		t.Fatalf("register run again: %v", err)
	}
	if got := listIDs(t, adminV, catalog.BackupFilter{System: "casework"}); !slices.Equal(got, []string{key}) {
		t.Fatalf("casework lists %v, want %s", got, key)
	}
}
