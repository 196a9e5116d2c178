package shred_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/cryptoshred/cryptoshred/internal/s3test"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/storage"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/storage/s3"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// pausingRecords is the admin's Vault, where the first write that at
// matches waits until release: a protect stopped at that step while
// another runs.
type pausingRecords struct {
	*vault.Client
	at               func(path string, cas int) bool
	reached, release chan struct{}
	paused           *atomic.Bool
}

func pauseAt(c *vault.Client, at func(path string, cas int) bool) pausingRecords {
	return pausingRecords{c, at, make(chan struct{}), make(chan struct{}), new(atomic.Bool)}
}

func (p pausingRecords) Put(ctx context.Context, path string, data map[string]any, cas int) (int, error) {
	if p.at(path, cas) && p.paused.CompareAndSwap(false, true) {
		close(p.reached)
		<-p.release
	}
	return p.Client.Put(ctx, path, data, cas)
}

// atRegistration pauses a protect between its commit and its
// registration, once it recorded the commit.
func atRegistration(path string, _ int) bool { return strings.HasPrefix(path, "registrations/") }

// atCommitRecord pauses a protect between its commit and the status
// write that records it.
func atCommitRecord(path string, cas int) bool {
	return cas != 0 && strings.HasPrefix(path, "backups/")
}

type protected struct {
	b   *catalog.Backup
	err error
}

// protectPaused starts protecting req with the admin's Vault paused at
// the step at, and returns once it got there; closing the returned
// pausingRecords' release lets it finish into the channel returned.
func protectPaused(t *testing.T, srv *vaulttest.Server, req shred.ProtectRequest, at func(string, int) bool) (pausingRecords, chan protected) {
	t.Helper()
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	p := pauseAt(vc, at)
	svc := shred.New(shred.Config{Records: p, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	done := make(chan protected, 1)
	go func() {
		b, err := svc.Protect(context.Background(), admin, req)
		done <- protected{b, err}
	}()
	<-p.reached
	return p, done
}

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

// Two files of one name protected into one directory at once (a batch
// with --parallel, or two operators): the second meets the first's
// ciphertext, committed and not yet registered, and is refused, naming
// the first's backup. Before, it took the first for an interrupted
// protect: it deleted the first's ciphertext and wrote its own data under
// the first's key, in the first's system, and the first then reported
// success for a backup that did not hold its data.
func TestProtectOfAnotherFileOfTheSameNameLeavesARunningProtectAlone(t *testing.T) {
	for name, at := range map[string]func(string, int) bool{"before its commit record": atCommitRecord, "before its registration": atRegistration} {
		t.Run(name, func(t *testing.T) {
			srv, v := newVault(t)
			out := t.TempDir()
			a := writeFile(t, t.TempDir(), "db.tar", []byte("data of system A"))
			b := writeFile(t, t.TempDir(), "db.tar", []byte("data of system B, other"))
			p, first := protectPaused(t, srv, shred.ProtectRequest{Source: a, OutDir: out, System: "sysa"}, at)
			_, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: b, OutDir: out, System: "sysb"})
			close(p.release)
			r := <-first
			if r.err != nil {
				t.Fatalf("the first protect: %v", r.err)
			}
			if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), r.b.ID) {
				t.Fatalf("the second protect, of another file of the same name: %v", err)
			}
			opensAs(t, v, r.b.ID, "data of system A")
			if l, _, err := v.ListBackups(context.Background(), catalog.BackupFilter{System: "sysb"}); err != nil || len(l) != 0 {
				t.Errorf("backups of the refused protect's system: %+v %v", l, err)
			}
		})
	}
}

// A stream protect is never resumed by another: the stream cannot be
// read again, so a second protect of a stream of the same name, while
// the first is under way, is refused and the first's data stays.
func TestProtectOfAStreamOfTheSameNameLeavesARunningProtectAlone(t *testing.T) {
	srv, v := newVault(t)
	out := t.TempDir()
	p, first := protectPaused(t, srv, shred.ProtectRequest{Input: strings.NewReader("first dump"), Name: "dump.sql", OutDir: out, System: "casework"}, atCommitRecord)
	_, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Input: strings.NewReader("second dump"), Name: "dump.sql", OutDir: out, System: "casework"})
	close(p.release)
	r := <-first
	if r.err != nil {
		t.Fatalf("the first protect: %v", r.err)
	}
	if err == nil || !strings.Contains(err.Error(), "a stream") || !strings.Contains(err.Error(), r.b.ID) {
		t.Fatalf("the second stream protect of the same name: %v", err)
	}
	opensAs(t, v, r.b.ID, "first dump")
}

// A re-run of a protect of the same file, while that protect still runs
// between its commit and recording it, takes it over: it writes the
// status record first, so the protect it took over registers nothing and
// says so, even when it goes on while the re-run writes the ciphertext
// again, and the backup holds the re-run's ciphertext, registered.
// Without the claim, the protect taken over registered the ciphertext
// the re-run had deleted, and the re-run's was refused.
func TestProtectRerunTakingOverARunningProtectStopsItsRegistration(t *testing.T) {
	srv, v := newVault(t)
	out := t.TempDir()
	src := writeFile(t, t.TempDir(), "db.tar", []byte("the same file"))
	req := shred.ProtectRequest{Source: src, OutDir: out, System: "casework"}
	p1, first := protectPaused(t, srv, req, atCommitRecord)
	p2, rerun := protectPaused(t, srv, req, afterFirst(atCommitRecord, atCommitRecord))
	close(p1.release)
	r1 := <-first
	close(p2.release)
	r2 := <-rerun
	if !errors.Is(r1.err, errs.ErrConflict) || !strings.Contains(r1.err.Error(), "registered nothing") {
		t.Fatalf("the protect taken over: %+v %v", r1.b, r1.err)
	}
	if r2.err != nil || !r2.b.Registered {
		t.Fatalf("the re-run: %+v %v", r2.b, r2.err)
	}
	opensAs(t, v, r2.b.ID, "the same file")
}

// A protect that recorded its commit and stopped before its registration
// is finished by a re-run without writing its ciphertext again: the
// ciphertext in place is the one recorded, so nothing is deleted.
func TestProtectFinishesARecordedCommitWithoutWritingItAgain(t *testing.T) {
	srv, v := newVault(t)
	b, src := protect(t, v, []byte("cut before registration"))
	unregister(t, srv, b, true)
	before, err := os.ReadFile(b.Ciphertext.Path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: filepath.Dir(b.Ciphertext.Path), System: "casework", AllowDuplicate: true})
	if err != nil || again.ID != b.ID || !again.Registered {
		t.Fatalf("re-run of a protect stopped before its registration: %+v %v", again, err)
	}
	if after, err := os.ReadFile(b.Ciphertext.Path); err != nil || !bytes.Equal(before, after) {
		t.Fatalf("the recorded ciphertext was written again: %v", err)
	}
	opensAs(t, v, b.ID, "cut before registration")
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

// An S3 protect killed after its commit record or after its registration
// is finished by a re-run, as its error says: the location recorded once
// committed names the object's version, which the re-run compares with
// the version the output holds now, as the storage pins it. Before, the
// re-run compared it with the unversioned output and refused it as a
// foreign object, and the backup stayed protecting.
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

// A stream protect and a file protect to one name in one S3 prefix, both
// past their look at the output before either commits: the file's
// commits first, and the stream's commit is refused (If-None-Match), so
// it reports no success and the file's backup keeps its data. Before, in
// a bucket without versioning (--no-storage-hold), the stream's upload
// replaced the file's ciphertext and both reported protected.
func TestS3TwoProtectsToOneNameNeverReplaceEachOther(t *testing.T) {
	for name, versioning := range map[string]bool{"unversioned": false, "versioned": true} {
		t.Run(name, func(t *testing.T) {
			srv, _ := newVault(t)
			gw := s3test.Start(t)
			gw.SetEnv(t, gw.AccessKey, gw.SecretKey)
			if versioning {
				s3test.CreateBucket(t, "plain")
			} else if _, err := gw.Client(gw.AccessKey, gw.SecretKey).CreateBucket(context.Background(), &awss3.CreateBucketInput{Bucket: aws.String("plain")}); err != nil {
				t.Fatal(err)
			}
			v := roleServiceOn(t, srv, vault.PolicyAdmin, s3.NewFromConfig(gw.Config(gw.AccessKey, gw.SecretKey), true))
			stream, write := io.Pipe()
			first := make(chan protected, 1)
			go func() {
				b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Input: stream, Name: "dump.sql", OutDir: "s3://plain/dumps", NoStorageHold: true, System: "hosta"})
				first <- protected{b, err}
			}()
			write.Write([]byte("host A ")) // the stream protect is past its look at the output
			src := writeFile(t, t.TempDir(), "dump.sql", []byte("host B data"))
			b, err := v.Protect(context.Background(), admin, shred.ProtectRequest{Source: src, OutDir: "s3://plain/dumps", NoStorageHold: true, System: "hostb"})
			if err != nil {
				t.Fatalf("the file protect: %v", err)
			}
			write.Write([]byte("data"))
			write.Close()
			if r := <-first; !errors.Is(r.err, fs.ErrExist) {
				t.Fatalf("the stream protect committed onto the file's ciphertext: %+v %v", r.b, r.err)
			}
			opensAs(t, v, b.ID, "host B data")
		})
	}
}

// pausingDelete is the local back end, where the first Delete waits
// until release: a re-run stopped between taking a protect over and
// removing its ciphertext.
type pausingDelete struct {
	*local.Backend
	reached, release chan struct{}
}

func (p *pausingDelete) For(string) (storage.Backend, error) { return p, nil }

func (p *pausingDelete) Delete(ctx context.Context, objs []storage.Object) []storage.Result {
	close(p.reached)
	<-p.release
	return p.Backend.Delete(ctx, objs)
}

// Two re-runs of one interrupted protect: the first stops between taking
// it over and deleting its ciphertext, the second takes it over after
// it, writes the ciphertext again and registers it; the first then
// deletes only the ciphertext it inspected, which is gone, so it fails
// and the registered one stays. Before, its delete accepted any
// ciphertext under the backup's key and removed the one just registered.
func TestProtectRerunDeletesOnlyTheCiphertextItInspected(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	src := writeFile(t, t.TempDir(), "db.tar", []byte("the same file"))
	req := shred.ProtectRequest{Source: src, OutDir: t.TempDir(), System: "casework"}
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	killed := shred.New(shred.Config{Records: killedRecords{vc, atCommitRecord, new(bool)}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	if _, err := killed.Protect(ctx, admin, req); err == nil {
		t.Fatal("the protect was not killed after its commit")
	}
	stalled := &pausingDelete{local.New(), make(chan struct{}), make(chan struct{})}
	first := make(chan protected, 1)
	go func() {
		b, err := shred.New(shred.Config{Records: vc, Keys: vc, Guard: vc, Signer: vc, Storage: stalled}).Protect(ctx, admin, req)
		first <- protected{b, err}
	}()
	<-stalled.reached
	b, err := v.Protect(ctx, admin, req)
	if err != nil || !b.Registered {
		t.Fatalf("the second re-run: %+v %v", b, err)
	}
	close(stalled.release)
	r := <-first
	opensAs(t, v, b.ID, "the same file")
	if r.err == nil || !strings.Contains(r.err.Error(), "not the ciphertext inspected") {
		t.Fatalf("the first re-run, resumed after the second registered: %+v %v", r.b, r.err)
	}
}

// A stream protect interrupted once its ciphertext may be in place (its
// commit failed late, or Vault failed at its commit record) does not tell
// the user to run it again, which would be refused: a stream is never
// resumed. It says the backup stays protecting and the stream is to be
// protected under another --name, and a file protect cut at the same
// steps still says to re-run it.
func TestInterruptedStreamProtectAdvisesAnotherName(t *testing.T) {
	for name, at := range map[string]func(string, int) bool{"at its commit record": atCommitRecord, "at its commit": nil} {
		t.Run(name, func(t *testing.T) {
			srv, _ := newVault(t)
			vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
			cut := func(req shred.ProtectRequest) error {
				var records catalog.Store = killedRecords{vc, at, new(bool)}
				var st storage.Resolver = local.New()
				if at == nil {
					records, st = vc, lateCommit{local.New(), func(context.Context) error { return errors.New("failed to sync directory: input/output error") }}
				}
				_, err := shred.New(shred.Config{Records: records, Keys: vc, Guard: vc, Signer: vc, Storage: st}).Protect(context.Background(), admin, req)
				return err
			}
			out := t.TempDir()
			err := cut(shred.ProtectRequest{Input: strings.NewReader("dump"), Name: "dump.sql", OutDir: out, System: "casework"})
			if err == nil || !strings.Contains(err.Error(), "under another --name") || strings.Contains(err.Error(), "to finish") {
				t.Fatalf("the interrupted stream protect: %v", err)
			}
			err = cut(shred.ProtectRequest{Source: writeFile(t, t.TempDir(), "db.tar", []byte("file")), OutDir: out, System: "casework"})
			if err == nil || !strings.Contains(err.Error(), "protect the same file again to finish") {
				t.Fatalf("the interrupted file protect: %v", err)
			}
		})
	}
}

// A protect killed after its commit, before its commit record, and the
// file at its path written again since (a nightly dump to one path): the
// re-run refuses, naming the backup, and keeps its ciphertext, the only
// copy of the earlier data; so does a re-run with the earlier data put
// back with its size and modification time, a file written again all the
// same (its change time). Before, the re-run compared only the path: it
// deleted the earlier ciphertext and registered the new data under the
// earlier backup's id and time.
func TestProtectRerunOfAFileWrittenAgainKeepsTheEarlierCiphertext(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	killed := shred.New(shred.Config{Records: killedRecords{vc, atCommitRecord, new(bool)}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	out := t.TempDir()
	src := writeFile(t, t.TempDir(), "dump.sql", []byte("monday's dump"))
	monday, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	req := shred.ProtectRequest{Source: src, OutDir: out, System: "casework"}
	if _, err := killed.Protect(ctx, admin, req); err == nil {
		t.Fatal("the protect was not killed after its commit")
	}
	earlier, err := os.ReadFile(filepath.Join(out, "dump.sql.age"))
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := v.ListBackups(ctx, catalog.BackupFilter{})
	if err != nil || len(list) != 1 {
		t.Fatalf("backups after the killed protect: %+v %v", list, err)
	}
	writeFile(t, filepath.Dir(src), "dump.sql", []byte("tuesday's dump"))
	_, err = v.Protect(ctx, admin, req)
	if !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), list[0].ID) || !strings.Contains(err.Error(), "only that very file") {
		t.Fatalf("the re-run of a file written again since: %v", err)
	}
	writeFile(t, filepath.Dir(src), "dump.sql", []byte("monday's dump"))
	if err := os.Chtimes(src, monday.ModTime(), monday.ModTime()); err != nil {
		t.Fatal(err)
	}
	if _, err = v.Protect(ctx, admin, req); !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), list[0].ID) {
		t.Fatalf("the re-run with the earlier data put back: %v", err)
	}
	if now, err := os.ReadFile(filepath.Join(out, "dump.sql.age")); err != nil || !bytes.Equal(now, earlier) {
		t.Fatalf("the earlier ciphertext was not kept: %v", err)
	}
}

// TestProtectRerunOfAFileWrittenAgainWithItsSizeAndMtimeKeepsTheEarlierCiphertext:
// a protect killed after its commit, before its commit record, and the
// file written again since with other data of the same size, its
// modification time set back (cp -p, rsync -t, tar x): the re-run must
// tell it from the file it protected by its inode change time, refuse,
// and keep the earlier ciphertext, the only copy of the earlier data.
// Before, size and modification time matched, and the re-run deleted it
// and registered the new data under the earlier backup's id.
func TestProtectRerunOfAFileWrittenAgainWithItsSizeAndMtimeKeepsTheEarlierCiphertext(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	killed := shred.New(shred.Config{Records: killedRecords{vc, atCommitRecord, new(bool)}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	out := t.TempDir()
	src := writeFile(t, t.TempDir(), "dump.sql", []byte("monday's dump"))
	monday, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	req := shred.ProtectRequest{Source: src, OutDir: out, System: "casework"}
	if _, err := killed.Protect(ctx, admin, req); err == nil {
		t.Fatal("the protect was not killed after its commit")
	}
	earlier, err := os.ReadFile(filepath.Join(out, "dump.sql.age"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Dir(src), "dump.sql", []byte("friday's dump"))
	if err := os.Chtimes(src, monday.ModTime(), monday.ModTime()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Protect(ctx, admin, req); !errors.Is(err, errs.ErrRefused) {
		t.Errorf("the re-run with other data of the same size and modification time: %v", err)
	}
	if now, err := os.ReadFile(filepath.Join(out, "dump.sql.age")); err != nil || !bytes.Equal(now, earlier) {
		t.Fatalf("the earlier ciphertext, monday's only copy, was not kept: %v", err)
	}
}

// A stream protect cut after its registration, at its ledger entry or at
// its status record, says that the backup is protected and registered and
// no new protect is needed, and names what its record lacks; a hold is
// placed on it. Before, it said to protect the stream again under another
// --name, which made a second live backup of the same data; a file
// protect cut there still says to protect the same file again.
func TestStreamProtectCutAfterItsRegistrationSaysNoNewProtectIsNeeded(t *testing.T) {
	ledgerEntry := func(path string, _ int) bool { return strings.Contains(path, "ledger") }
	statusRecord := func(path string, cas int) bool { return cas != 0 && strings.HasPrefix(path, "backups/") }
	type step struct {
		at      func(string, int) bool
		missing string
	}
	for name, c := range map[string]step{"at its ledger entry": {ledgerEntry, "its backup.protected ledger entry and its status record"},
		"at its status record": {statusRecord, "only its record is incomplete: its status record"}} {
		t.Run(name, func(t *testing.T) {
			at := c.at
			srv, _ := newVault(t)
			ctx := context.Background()
			vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
			cut := func(req shred.ProtectRequest) error {
				records := killedRecords{vc, afterFirst(atRegistration, at), new(bool)}
				_, err := shred.New(shred.Config{Records: records, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()}).Protect(ctx, admin, req)
				return err
			}
			out := t.TempDir()
			err := cut(shred.ProtectRequest{Input: strings.NewReader("dump"), Name: "dump.sql", OutDir: out, System: "casework"})
			if err == nil || !strings.Contains(err.Error(), "no new protect is needed") || !strings.Contains(err.Error(), c.missing) ||
				strings.Contains(err.Error(), "another --name") {
				t.Fatalf("the stream protect cut after its registration: %v", err)
			}
			list, _, lerr := roleVault(t, srv, vault.PolicyAdmin).ListBackups(ctx, catalog.BackupFilter{})
			if lerr != nil || len(list) != 1 || !strings.Contains(err.Error(), list[0].ID) {
				t.Fatalf("backups after the cut: %+v %v", list, lerr)
			}
			comp := roleVault(t, srv, vault.PolicyCompliance)
			openCase(t, comp, "S")
			hold(t, comp, "S", list[0].ID)
			err = cut(shred.ProtectRequest{Source: writeFile(t, t.TempDir(), "db.tar", []byte("file")), OutDir: out, System: "casework"})
			if err == nil || !strings.Contains(err.Error(), "protect the same file again to finish") {
				t.Fatalf("the file protect cut after its registration: %v", err)
			}
		})
	}
}

// losingFirstAnswer is an HTTP transport that loses S3's answer to the
// first request lost matches, after S3 carried it out: the SDK sends it
// again.
func losingFirstAnswer(lost func(*http.Request) bool) http.RoundTripper {
	var dropped atomic.Bool
	return roundTrip(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil && lost(r) && dropped.CompareAndSwap(false, true) {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil, io.ErrUnexpectedEOF
		}
		return resp, err
	})
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A protect whose commit answer is lost: the SDK sends the commit again,
// and versitygw answers a CompleteMultipartUpload 200 with no version id,
// and a single PUT 412, the object there being the protect's own. Either
// protect fails and its backup stays protecting; the re-run, as its
// error says, registers a location naming a version, and a case's hold
// puts the legal hold on it. Before, the multipart commit returned the
// location with no version, protect registered it (write-once) and every
// legal hold on it failed while the key hold was placed.
func TestS3ProtectWhoseCommitAnswerIsLostRegistersAVersionOnItsRerun(t *testing.T) {
	type commit struct {
		size int
		is   func(*http.Request) bool
	}
	for name, c := range map[string]commit{
		"multipart": {17 << 20, func(r *http.Request) bool { return r.Method == http.MethodPost && r.URL.Query().Has("uploadId") }},
		"put": {10, func(r *http.Request) bool {
			return r.Method == http.MethodPut && r.URL.Query().Get("x-id") == "PutObject"
		}},
	} {
		t.Run(name, func(t *testing.T) {
			env := newS3Env(t)
			ctx := context.Background()
			cfg := env.gw.Config(env.adminKey, env.adminSec)
			cfg.HTTPClient = &http.Client{Transport: losingFirstAnswer(c.is)}
			lossy := roleServiceOn(t, env.vault, vault.PolicyAdmin, s3.NewFromConfig(cfg, true))
			src := writeFile(t, t.TempDir(), "big.tar", bytes.Repeat([]byte("x"), c.size))
			req := shred.ProtectRequest{Source: src, OutDir: "s3://backups/casework", System: "casework"}
			if b, err := lossy.Protect(ctx, admin, req); err == nil || !strings.Contains(err.Error(), "protect the same file again to finish") {
				t.Fatalf("the protect whose commit answer was lost: %+v %v", b, err)
			}
			b, err := env.admin.Protect(ctx, admin, req)
			if err != nil || !b.Registered || !strings.Contains(b.Ciphertext.Path, "?versionId=") {
				t.Fatalf("the re-run: %+v %v", b, err)
			}
			openCase(t, env.compliance, "LOST")
			hold(t, env.compliance, "LOST", b.ID)
			bucket, key, version := splitLoc(t, b.Ciphertext.Path)
			lh, err := env.complyS3.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: &bucket, Key: &key, VersionId: &version})
			if err != nil || legalHold(lh) != types.ObjectLockLegalHoldStatusOn {
				t.Fatalf("the legal hold on the re-run's version: %+v %v", lh, err)
			}
		})
	}
}

// A name whose current version is a delete marker over an older version
// (a plain S3 delete of a backup's ciphertext) cannot be written again
// on versitygw, which refuses the conditional commit with 412: each
// protect to it fails for certain, says a delete marker is there and
// what to do, and its backup is failed, not left protecting. Before, the
// refusal was taken for a commit that may be in place: each protect left
// a backup protecting, whose re-run failed the same way.
func TestS3ProtectOntoADeleteMarkerFailsSayingWhatIsThere(t *testing.T) {
	env := newS3Env(t)
	ctx := context.Background()
	first, _ := protectTo(t, env.admin, "s3://backups/casework", []byte("one"))
	bucket, key, _ := splitLoc(t, first.Ciphertext.Path)
	if _, err := env.adminS3.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: &bucket, Key: &key}); err != nil {
		t.Fatal(err)
	}
	src := writeFile(t, t.TempDir(), filepath.Base(key[:len(key)-len(".age")]), []byte("two"))
	for range 2 {
		_, err := env.admin.Protect(ctx, admin, shred.ProtectRequest{Source: src, OutDir: "s3://backups/casework", System: "casework"})
		if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "a delete marker") || !strings.Contains(err.Error(), "another --name") ||
			strings.Contains(err.Error(), "again to finish") {
			t.Fatalf("a protect onto a delete marker: %v", err)
		}
	}
	list, _, err := env.admin.ListBackups(ctx, catalog.BackupFilter{})
	if err != nil || len(list) != 3 {
		t.Fatalf("backups: %+v %v", list, err)
	}
	for _, b := range list {
		if b.ID != first.ID && (b.State != catalog.StateFailed || !strings.Contains(b.FailedReason, "delete marker")) {
			t.Errorf("backup %s of a protect onto a delete marker: %s %q", b.ID, b.State, b.FailedReason)
		}
	}
}

// On local storage as on S3, a protect whose commit finds its name taken
// by another backup's ciphertext (two protects to one name, both past
// their look at the output) fails for certain, naming that backup, and
// its backup is failed; the other keeps its data.
func TestProtectWhoseNameIsTakenByAnotherBackupFailsNamingIt(t *testing.T) {
	_, v := newVault(t)
	ctx := context.Background()
	out := t.TempDir()
	stream, write := io.Pipe()
	first := make(chan protected, 1)
	go func() {
		b, err := v.Protect(ctx, admin, shred.ProtectRequest{Input: stream, Name: "dump.sql", OutDir: out, System: "hosta"})
		first <- protected{b, err}
	}()
	write.Write([]byte("host A ")) // the stream protect is past its look at the output
	b, err := v.Protect(ctx, admin, shred.ProtectRequest{Source: writeFile(t, t.TempDir(), "dump.sql", []byte("host B data")), OutDir: out, System: "hostb"})
	if err != nil {
		t.Fatalf("the file protect: %v", err)
	}
	write.Write([]byte("data"))
	write.Close()
	r := <-first
	if !errors.Is(r.err, fs.ErrExist) || !strings.Contains(r.err.Error(), "the ciphertext of backup "+b.ID) {
		t.Fatalf("the stream protect whose name was taken: %+v %v", r.b, r.err)
	}
	all, _, err := v.ListBackups(ctx, catalog.BackupFilter{})
	if err != nil || len(all) != 2 {
		t.Fatalf("backups: %+v %v", all, err)
	}
	for _, x := range all {
		if x.ID != b.ID && x.State != catalog.StateFailed {
			t.Errorf("the stream's backup %s: %s", x.ID, x.State)
		}
	}
	opensAs(t, v, b.ID, "host B data")
}

// TestProtectRerunOfAFileWrittenAgainFinishesTheEarlierCommittedBackup: a
// protect killed at its registration, its commit recorded, and the file
// written again since (a nightly dump): finishing it reads nothing of the
// file, so the re-run registers the earlier backup, from its recorded
// original, and then refuses, saying the file as it is now was not
// protected and naming the backup it finished. Before, the changed file
// refused the re-run, and the earlier complete ciphertext stayed
// protecting, unregistered, where no hold reaches it.
func TestProtectRerunOfAFileWrittenAgainFinishesTheEarlierCommittedBackup(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	vc := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "admin", vault.PolicyAdmin)), vault.DefaultMounts)
	killed := shred.New(shred.Config{Records: killedRecords{vc, atRegistration, new(bool)}, Keys: vc, Guard: vc, Signer: vc, Storage: local.New()})
	src := writeFile(t, t.TempDir(), "dump.sql", []byte("monday's dump"))
	req := shred.ProtectRequest{Source: src, OutDir: t.TempDir(), System: "casework"}
	if _, err := killed.Protect(ctx, admin, req); err == nil {
		t.Fatal("the protect was not killed at its registration")
	}
	list, _, err := v.ListBackups(ctx, catalog.BackupFilter{})
	if err != nil || len(list) != 1 || list[0].Ciphertext.SHA256 == "" {
		t.Fatalf("backups after the killed protect: %+v %v", list, err)
	}
	writeFile(t, filepath.Dir(src), "dump.sql", []byte("tuesday's dump!!"))
	_, err = v.Protect(ctx, admin, req)
	if !errors.Is(err, errs.ErrRefused) || !strings.Contains(err.Error(), "was not protected") || !strings.Contains(err.Error(), list[0].ID) {
		t.Errorf("the re-run of a file written again since: %v", err)
	}
	b, _, err := v.GetBackup(ctx, list[0].ID)
	if err != nil || !b.Registered || b.State != catalog.StateProtected {
		t.Fatalf("the earlier backup after the re-run: %+v %v", b, err)
	}
	opensAs(t, v, list[0].ID, "monday's dump")
}
