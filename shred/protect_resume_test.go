package shred_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// atRegistration matches a protect's registration write.
func atRegistration(path string, _ int) bool { return strings.HasPrefix(path, "registrations/") }

// opensAs checks that backup id opens to want and that its ciphertext is
// the one registered.
func opensAs(t *testing.T, v *shred.Service, id, want string) {
	t.Helper()
	b, _, err := v.GetBackup(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifyCiphertext(context.Background(), b); err != nil {
		t.Errorf("backup %s: %v", id, err)
	}
	if got, err := open(t, v, id); err != nil || string(got) != want {
		t.Errorf("backup %s opens to %q, %v; want %q", id, got, err, want)
	}
}

// killedRecords is the admin's Vault, failing each write after stop: a
// protect killed at that step.
type killedRecords struct {
	*vault.Client
	stop   func(path string, cas int) bool
	killed *bool
}

func (k killedRecords) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	if *k.killed = *k.killed || k.stop(path, cas); *k.killed {
		return 0, errors.New("killed")
	}
	return k.Client.Put(ctx, path, data, cas)
}

// An S3 protect killed at its registration or after it is finished by a
// re-run, as its error says: the registered location names the object's
// version, which the re-run compares with the version the output holds
// now, as the storage pins it. Before, the re-run compared it with the
// unversioned output and refused it as a foreign object, and the backup
// stayed protecting.
func TestS3ProtectKilledAfterItsCommitIsFinishedByARerun(t *testing.T) {
	registered := func(path string, cas int) bool { return cas != 0 && strings.HasPrefix(path, "backups/") }
	for name, at := range map[string]func(string, int) bool{"at its registration": atRegistration, "after its registration": afterFirst(atRegistration, registered)} {
		t.Run(name, func(t *testing.T) {
			env := newS3Env(t)
			ctx := context.Background()
			vc := vault.New(env.vault.Client(t, env.vault.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
			be := s3.NewFromConfig(env.gw.Config(env.adminKey, env.adminSec), true)
			k := killedRecords{vc, at, new(bool)}
			killed := shred.New(shred.Config{Records: k, Keys: vc, Guard: vc, Signer: vc,
				Storage: &storage.Router{Local: local.New(), NewS3: func() (storage.Backend, error) { return be, nil }}})
			src := writeFile(t, t.TempDir(), "casework.tar", []byte("s3 data"))
			req := shred.ProtectRequest{Source: src, OutDir: "s3://backups/casework", System: "casework"}
			if _, err := killed.Protect(ctx, admin, req); err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("the killed protect: %v", err)
			}
			b, err := env.admin.Protect(ctx, admin, req)
			if err != nil || !b.Registered || b.State != catalog.StateProtected {
				t.Fatalf("the re-run: %+v %v", b, err)
			}
			opensAs(t, env.admin, b.ID, "s3 data")
		})
	}
}

// afterFirst matches what then matches once a write first matched.
func afterFirst(first, then func(string, int) bool) func(string, int) bool {
	var mu sync.Mutex
	seen := false
	return func(path string, cas int) bool {
		mu.Lock()
		defer mu.Unlock()
		if seen && then(path, cas) {
			return true
		}
		seen = seen || first(path, cas)
		return false
	}
}
