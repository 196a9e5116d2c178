package shred_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// A run stopped after deleting a key and before writing its shredded
// status leaves the key gone, its intent recorded and the status
// released; the backup-admin role's own token makes that state here with
// plain Vault calls. Plans with the admin's and the compliance officer's
// tokens finish it, and an older version's destroying record; a schedule
// leaves it alone; an open is refused without a ledger entry. The next run
// lists each once. A key deleted without an intent, or with one that names
// another case or is malformed, is reported and never recorded as
// destroyed; an intent cannot be rewritten.
func TestRunFinishesADestructionAStoppedRunBegan(t *testing.T) {
	srv, v := newVault(t)
	ctx := context.Background()
	backups := closedCase(t, v, "BEGUN", 4)
	begun, vanished, untouched, older := backups[0], backups[1], backups[2], backups[3]
	raw := asRole(t, srv, vault.PolicyAdmin)
	raw.mustWrite("intents/BEGUN/stopped", intentRecord("BEGUN", begun.ID))
	raw.mustWrite("intents/BEGUN/other-case", intentRecord("OTHER", vanished.ID))
	raw.mustWrite("intents/BEGUN/malformed", map[string]any{"case": "BEGUN", "versions": vanished.ID})
	if err := raw.write("intents/BEGUN/stopped", intentRecord("BEGUN", vanished.ID)); err == nil {
		t.Fatal("the backup-admin token rewrote an intent")
	}
	writeDestroyingRecord(raw, older.ID)
	for _, b := range []*catalog.Backup{begun, vanished, older} {
		if _, err := raw.l.Delete("cryptoshred-transit/keys/" + b.Key); err != nil {
			t.Fatal(err)
		}
	}
	for _, planner := range []*shred.Service{v, roleVault(t, srv, vault.PolicyCompliance)} {
		checkBegunPlan(t, shredtest.PlanByID(t, planner, "BEGUN"), begun, vanished, untouched, older)
	}
	checkOpenRefused(t, v, begun)
	if _, err := v.Schedule(ctx, admin, "BEGUN", 0); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := v.GetBackup(ctx, begun.ID); got.State != catalog.StateReleased {
		t.Fatalf("a schedule changed a backup whose key a stopped run deleted to %s", got.State)
	}
	res, err := v.RunShred(ctx, admin, "BEGUN", runOpts(t))
	if err != nil || len(res.Destroyed) != 3 {
		t.Fatalf("run after the stopped one: %+v %v", res, err)
	}
	checkBegun(t, v, res, []*catalog.Backup{begun, untouched, older}, vanished)
}

func checkBegunPlan(t *testing.T, plan map[string]*shred.PlanItem, begun, vanished, untouched, older *catalog.Backup) {
	t.Helper()
	for _, b := range []*catalog.Backup{begun, untouched, older} {
		if plan[b.ID].Action != shred.ActionDestroy {
			t.Fatalf("plan for %s: %+v", b.ID, plan[b.ID])
		}
	}
	if plan[vanished.ID].Action != shred.ActionSkip || !strings.Contains(plan[vanished.ID].Reason, "no run recorded") {
		t.Fatalf("plan for a key deleted without an intent: %+v", plan[vanished.ID])
	}
}

// checkOpenRefused: opening b, whose key is gone while its status says
// released, is refused before the ledger records an open.
func checkOpenRefused(t *testing.T, v *shred.Service, b *catalog.Backup) {
	t.Helper()
	if _, err := open(t, v, b.ID); !errors.Is(err, shred.ErrKeyDestroyed) {
		t.Fatalf("open of a backup whose key is gone: %v", err)
	}
	opened, err := shredtest.InLedger(v, ledger.KindBackupOpened)
	if err != nil || opened[b.ID] != 0 {
		t.Fatalf("the ledger records %d opens of a backup whose key is gone (%v)", opened[b.ID], err)
	}
}

// writeDestroyingRecord rewrites backup id's status as a run of a version
// before intents left it before deleting the key.
func writeDestroyingRecord(in insider, id string) {
	in.t.Helper()
	rec := in.read("backups/" + id)
	rec["state"] = string(catalog.StateDestroying)
	rec["destruction"] = map[string]any{"versionsDestroyed": []int{1}, "destroyedBy": "older run"}
	in.mustWrite("backups/"+id, rec)
}

func checkBegun(t *testing.T, v *shred.Service, res *shred.RunResult, destroyed []*catalog.Backup, vanished *catalog.Backup) {
	t.Helper()
	counts := shredtest.DestroyedInLedger(t, v)
	for _, b := range destroyed {
		assertShredded(t, v, b)
		if counts[b.ID] != 1 {
			t.Fatalf("%s listed %d times in the ledger, want 1", b.ID, counts[b.ID])
		}
	}
	if got, _, err := v.GetBackup(context.Background(), vanished.ID); err != nil || got.State == catalog.StateShredded || counts[vanished.ID] != 0 {
		t.Fatalf("a key deleted without an intent was recorded: %+v %v, in the ledger %d times", got, err, counts[vanished.ID])
	}
	by := map[string]string{}
	for _, b := range attestedStatement(t, res.Attestation).Predicate.Backups {
		by[b.BackupID] = b.DestroyedBy
	}
	if by[destroyed[0].ID] != "stopped run" || by[destroyed[2].ID] != "older run" {
		t.Fatalf("finished destructions attested as by %q and %q, not by the runs that began them", by[destroyed[0].ID], by[destroyed[2].ID])
	}
}

// intentRecord is an intent of caseID naming backup id, as a run writes it.
func intentRecord(caseID, id string) map[string]any {
	return map[string]any{"case": caseID, "by": "stopped run", "at": catalog.Now(), "versions": map[string]any{id: []int{1}}}
}

// A backup-admin token whose policy an older init wrote may not record
// intents: the run is refused before any key is destroyed, and says what
// is missing.
func TestRunRefusesAnAdminPolicyWithoutIntents(t *testing.T) {
	srv, v := newVault(t)
	backups := closedCase(t, v, "OLDPOLICY", 2)
	putAdminVariant(t, srv, "admin-before-intents", func(current string) string {
		older := regexp.MustCompile(`(?s)path "cryptoshred/data/intents/\*" \{.*?\}\n`).ReplaceAllString(current, "")
		if older == current {
			t.Fatal("the admin policy has no intents path")
		}
		return older
	})
	_, err := roleVault(t, srv, "admin-before-intents").RunShred(context.Background(), admin, "OLDPOLICY", runOpts(t))
	if !errors.Is(err, shred.ErrRefused) || !strings.Contains(err.Error(), "intents/*") {
		t.Fatalf("run with the older policy: %v", err)
	}
	for _, b := range backups {
		if alive, _ := keyAlive(t, srv, b.Key); !alive {
			t.Fatalf("key %s destroyed by a refused run", b.Key)
		}
	}
}

// A run that cannot record its intent for a batch deletes none of the
// batch's keys: here the admin's policy lets it pass the capability check
// and denies the intents of this one case.
func TestRunDeletesNothingWithoutItsIntent(t *testing.T) {
	srv, v := newVault(t)
	backups := closedCase(t, v, "NOINTENT", 3)
	putAdminVariant(t, srv, "admin-without-intents-here", func(current string) string {
		return current + "\npath \"cryptoshred/data/intents/NOINTENT/*\" {\n  capabilities = [\"deny\"]\n}\n"
	})
	res, err := roleVault(t, srv, "admin-without-intents-here").RunShred(context.Background(), admin, "NOINTENT", runOpts(t))
	if err == nil || res == nil || len(res.Destroyed) != 0 || len(res.Failed) != 3 || !strings.Contains(err.Error(), "keys about to be destroyed") {
		t.Fatalf("run that could not record its intent: %+v %v", res, err)
	}
	for _, b := range backups {
		if alive, _ := keyAlive(t, srv, b.Key); !alive {
			t.Fatalf("key %s destroyed without an intent on record", b.Key)
		}
	}
}

// putAdminVariant installs, as policy name, the admin policy that init
// wrote changed by edit.
func putAdminVariant(t *testing.T, srv *vaulttest.Server, name string, edit func(string) string) {
	t.Helper()
	sys := srv.Root(t).Sys()
	current, err := sys.GetPolicy(vault.PolicyAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if err := sys.PutPolicy(name, edit(current)); err != nil {
		t.Fatal(err)
	}
}

// A plan made while another run destroys the case batch by batch finds
// the intent of each key that run deleted, though the run recorded the
// intent after the plan had found an earlier batch's key gone: the plan
// reads the intents after every key.
func TestPlanDuringARunFindsTheIntentsOfItsLaterBatches(t *testing.T) {
	srv, v := newVault(t)
	backups := closedCase(t, v, "LIVE", 2)
	first, second := backups[0], backups[1]
	raw := asRole(t, srv, vault.PolicyAdmin)
	raw.mustWrite("intents/LIVE/first-batch", intentRecord("LIVE", first.ID))
	if _, err := raw.l.Delete("cryptoshred-transit/keys/" + first.Key); err != nil {
		t.Fatal(err)
	}
	client := vault.New(srv.Root(t), vault.DefaultMounts)
	intentsListed := make(chan struct{})
	records := &onList{Store: client, dir: "intents/LIVE/", listed: sync.OnceFunc(func() { close(intentsListed) })}
	keys := &beforeKeyInfo{Keys: client, name: second.Key, before: func() {
		select { // the first key read gone makes a plan that reads intents on demand read them now
		case <-intentsListed:
		case <-time.After(time.Second):
		}
		if err := raw.write("intents/LIVE/second-batch", intentRecord("LIVE", second.ID)); err != nil {
			t.Error(err)
		}
		if _, err := raw.l.Delete("cryptoshred-transit/keys/" + second.Key); err != nil {
			t.Error(err)
		}
	}}
	planner := shred.New(shred.Config{Records: records, Keys: keys, Guard: client, Signer: client, Storage: local.New()})
	plan := shredtest.PlanByID(t, planner, "LIVE")
	for _, b := range backups {
		if it := plan[b.ID]; it.Action != shred.ActionDestroy || !strings.Contains(it.Reason, "interrupted") {
			t.Fatalf("plan for %s, whose key a running shred deleted after recording its intent: %s: %s", b.ID, it.Action, it.Reason)
		}
	}
}

// onList calls listed after each listing of dir.
type onList struct {
	catalog.Store
	dir    string
	listed func()
}

// List lists dir through the store, then calls listed if dir is o.dir.
func (o *onList) List(ctx context.Context, dir string) ([]string, error) {
	names, err := o.Store.List(ctx, dir)
	if dir == o.dir {
		o.listed()
	}
	return names, err
}

// beforeKeyInfo calls before once, ahead of the first read of key name.
type beforeKeyInfo struct {
	shred.Keys
	name   string
	before func()
	once   sync.Once
}

// KeyInfo reads name's metadata, after before if name is k.name.
func (k *beforeKeyInfo) KeyInfo(ctx context.Context, name string) (*shred.KeyInfo, error) {
	if name == k.name {
		k.once.Do(k.before)
	}
	return k.Keys.KeyInfo(ctx, name)
}
