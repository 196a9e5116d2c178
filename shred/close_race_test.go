package shred_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoshred/cryptoshred/internal/shredtest"
	"github.com/cryptoshred/cryptoshred/internal/vaulttest"
	"github.com/cryptoshred/cryptoshred/shred"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/storage/local"
	"github.com/cryptoshred/cryptoshred/shred/vault"
)

// Two compliance officers at once: one closes case A while the other
// places case B's hold on a backup A holds. No role can close a deletion
// latch once opened, so whichever step comes last must either keep the
// backup latched or report the open latch; each interleaving is made
// deterministic by a wrapper around the real Vault client.

// officer returns a compliance officer's service whose records and keys
// go through wrap (nil: straight to Vault).
func officer(t *testing.T, srv *vaulttest.Server, records func(catalog.Store) catalog.Store, keys func(shred.Keys) shred.Keys) *shred.Service {
	v := vault.New(srv.Client(t, srv.TokenWithPolicies(t, "officer", vault.PolicyCompliance)), vault.DefaultMounts)
	var rec catalog.Store = v
	var k shred.Keys = v
	if records != nil {
		rec = records(v)
	}
	if keys != nil {
		k = keys(v)
	}
	return shred.New(shred.Config{Records: rec, Keys: k, Guard: v, Signer: v, Storage: local.New()})
}

// heldByA returns a backup case A holds, and case B open.
func heldByA(t *testing.T) (*vaulttest.Server, *shred.Service, *catalog.Backup) {
	srv, adminV, complianceV := roles(t)
	y, _ := protect(t, adminV, []byte("wanted by two cases"))
	openCase(t, complianceV, "A")
	hold(t, complianceV, "A", y.ID)
	openCase(t, complianceV, "B")
	return srv, complianceV, y
}

// holdB places case B's hold on id; it may run off the test goroutine.
func holdB(v *shred.Service, id string) error {
	_, err := v.PlaceHolds(context.Background(), compliance, "B", shred.HoldSelector{IDs: []string{id}})
	return err
}

// closeWithHoldAtRelease closes case A with B's hold placed on y whole
// after the close read the hold records and just before it releases A's
// hold on y, followed by statusWrite (the admin's, with a plain Vault
// call) if set; it returns what the close returned.
func closeWithHoldAtRelease(t *testing.T, srv *vaulttest.Server, complianceV *shred.Service, y *catalog.Backup, statusWrite func() error) (*shred.CloseResult, error) {
	t.Helper()
	var placeErr error
	closer := officer(t, srv, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "holds/A/", Before: func() {
			placeErr = holdB(complianceV, y.ID)
			if placeErr == nil && statusWrite != nil {
				placeErr = statusWrite()
			}
		}}
	}, nil)
	res, err := closer.CloseCase(context.Background(), compliance, closeRequest("A"))
	if placeErr != nil {
		t.Fatalf("hold place, or the status write, during the close: %v", placeErr)
	}
	return res, err
}

// B's hold, placed after the close read the hold records and before it
// released the backup's status, keeps the backup held and latched.
func TestCloseKeepsAHoldPlacedWhileItWorks(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	res, err := closeWithHoldAtRelease(t, srv, complianceV, y, nil)
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if !slices.Equal(res.StillHeld, []string{y.ID}) || len(res.Released) != 0 {
		t.Fatalf("close released %v, kept %v; want %s kept held", res.Released, res.StillHeld, y.ID)
	}
	if alive, latched := keyAlive(t, srv, y.Key); !alive || !latched {
		t.Fatalf("key after the close: alive %t, latched %t", alive, latched)
	}
}

// As above, but the backup's status cannot be read when the close comes
// to it (another version's record, or the admin's edit): the close lists
// every case's hold records on it instead, keeps it latched, leaves the
// record as it is and names it.
func TestCloseKeepsAHoldPlacedWhileItWorksWhenTheStatusIsUnreadable(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	insider := asRole(t, srv, vault.PolicyAdmin)
	res, err := closeWithHoldAtRelease(t, srv, complianceV, y, func() error {
		return insider.write("backups/"+y.ID, map[string]any{"writtenBy": "a newer version"})
	})
	if err != nil {
		t.Fatalf("close: %v", err)
	}
	if !slices.Equal(res.StillHeld, []string{y.ID}) || len(res.Released) != 0 || !slices.Equal(res.StatusUnreadable, []string{y.ID}) {
		t.Fatalf("close released %v, kept %v, status unreadable %v; want %s kept and named", res.Released, res.StillHeld, res.StatusUnreadable, y.ID)
	}
	if alive, latched := keyAlive(t, srv, y.Key); !alive || !latched {
		t.Fatalf("key after the close: alive %t, latched %t", alive, latched)
	}
	if rec := insider.read("backups/" + y.ID); rec["writtenBy"] != "a newer version" {
		t.Fatalf("the close wrote over the status record: %v", rec)
	}
}

// atUnlatch stands between the close and Vault's latches: before runs
// once, just ahead of the first latch the close opens; Vault then opens
// it unless refuse, and the close gets answer back.
type atUnlatch struct {
	shred.Keys
	before func()
	once   sync.Once
	refuse bool
	answer error
}

func (k *atUnlatch) AllowDeletion(ctx context.Context, name string) error {
	k.once.Do(k.before)
	if !k.refuse {
		if err := k.Keys.AllowDeletion(ctx, name); err != nil {
			return err
		}
	}
	return k.answer
}

// closeWithHoldAtUnlatch closes case A through keys, B's hold placed on y
// whole just before the close opens y's latch, and returns the close's
// error.
func closeWithHoldAtUnlatch(t *testing.T, srv *vaulttest.Server, complianceV *shred.Service, y *catalog.Backup, keys *atUnlatch) error {
	t.Helper()
	var placeErr error
	keys.before = func() { placeErr = holdB(complianceV, y.ID) }
	closer := officer(t, srv, nil, func(k shred.Keys) shred.Keys {
		keys.Keys = k
		return keys
	})
	_, err := closer.CloseCase(context.Background(), compliance, closeRequest("A"))
	if placeErr != nil {
		t.Fatalf("hold place just before the latch opened: %v", placeErr)
	}
	return err
}

// B's hold, placed whole between the close's release of the status and
// its opening of the latch, finds the latch still closed; the close reads
// the holds again once it opened it and reports what to do.
func TestCloseReportsAHoldPlacedAsItOpensTheLatch(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	err := closeWithHoldAtUnlatch(t, srv, complianceV, y, &atUnlatch{})
	if err == nil || !strings.Contains(err.Error(), "case(s) B placed a hold on it while this close opened its key's deletion latch") ||
		!strings.Contains(err.Error(), "deletion_allowed=false") || !strings.Contains(err.Error(), "stays closing") {
		t.Fatalf("close: %v; want the open latch of a held key reported", err)
	}
	// Run again, as a close stopped before its last check would be: the
	// backup is held, and its open latch is reported again.
	_, err = officer(t, srv, nil, nil).CloseCase(context.Background(), compliance, closeRequest("A"))
	if err == nil || !strings.Contains(err.Error(), "another case holds it, but its key's deletion latch is open") {
		t.Fatalf("close run again: %v; want the open latch reported again", err)
	}
}

// As above, but the admin's token strips case B from the backup's status
// (with a plain Vault call) before the close reads it: the close's last
// check lists the hold records themselves, and reports the open latch.
func TestCloseReportsAHoldTheStatusNoLongerNames(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	insider := asRole(t, srv, vault.PolicyAdmin)
	_, err := closeWithHoldAtRelease(t, srv, complianceV, y, func() error {
		rec := insider.read("backups/" + y.ID)
		rec["heldBy"] = []string{"A"}
		return insider.write("backups/"+y.ID, rec)
	})
	if err == nil || !strings.Contains(err.Error(), "case(s) B placed a hold on it while this close opened its key's deletion latch") {
		t.Fatalf("close: %v; want the open latch of a held key reported", err)
	}
}

// A hold placed for the closing case itself, having found the case open
// just before the close began, does not re-activate the hold the close
// released.
func TestHoldOfTheClosingCaseStaysReleased(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	reached, resume, placed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	placer := officer(t, srv, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "holds/A/", Before: func() { close(reached); <-resume }}
	}, nil)
	var placeErr error
	go func() {
		_, placeErr = placer.PlaceHolds(context.Background(), compliance, "A", shred.HoldSelector{IDs: []string{y.ID}})
		close(placed)
	}()
	<-reached
	res := closeCase(t, complianceV, "A")
	close(resume)
	<-placed
	if placeErr == nil || !strings.Contains(placeErr.Error(), "is closing: its close released the hold") {
		t.Fatalf("hold place for the closing case: %v", placeErr)
	}
	if !slices.Equal(res.Released, []string{y.ID}) {
		t.Fatalf("close released %v, want %s", res.Released, y.ID)
	}
	if h := insiderHold(t, srv, "A", y.ID); h["releasedAt"] == nil {
		t.Fatalf("case A's hold record after the close: %v", h)
	}
}

func insiderHold(t *testing.T, srv *vaulttest.Server, caseID, id string) map[string]any {
	return asRole(t, srv, vault.PolicyCompliance).read("holds/" + caseID + "/" + id)
}

// A latch opened though Vault's answer was lost is still checked for a
// hold placed meanwhile.
func TestCloseChecksALatchWhoseOpeningFailed(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	err := closeWithHoldAtUnlatch(t, srv, complianceV, y, &atUnlatch{answer: errors.New("connection reset by peer")})
	if err == nil || !strings.Contains(err.Error(), "case(s) B placed a hold on it while this close opened its key's deletion latch") {
		t.Fatalf("close: %v; want the open latch of a held key reported", err)
	}
}

// A latch Vault refused to open is not reported as open, though another
// case placed its hold meanwhile.
func TestCloseDoesNotReportALatchVaultKeptClosed(t *testing.T) {
	srv, complianceV, y := heldByA(t)
	err := closeWithHoldAtUnlatch(t, srv, complianceV, y, &atUnlatch{refuse: true, answer: errors.New("permission denied")})
	if err == nil || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "no longer stops") {
		t.Fatalf("close: %v; want Vault's refusal, and no open latch reported", err)
	}
	if alive, latched := keyAlive(t, srv, y.Key); !alive || !latched {
		t.Fatalf("key: alive %t, latched %t", alive, latched)
	}
}

// B's hold, recorded before the close released the backup but marked in
// its status only after the close opened the latch, is reported by hold
// place, which reads the key again once its case is in the status, and
// by the close's last check of the hold records.
func TestHoldPlaceReportsALatchACloseOpenedMeanwhile(t *testing.T) {
	srv, _, y := heldByA(t)
	reached, resume, placed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var placeErr error
	placer := officer(t, srv, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "backups/", Before: func() { close(reached); <-resume }}
	}, nil)
	closer := officer(t, srv, func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: "holds/A/", Before: func() {
			go func() { placeErr = holdB(placer, y.ID); close(placed) }()
			<-reached
		}}
	}, nil)
	res, err := closer.CloseCase(context.Background(), compliance, closeRequest("A"))
	close(resume)
	<-placed
	if !slices.Equal(res.Released, []string{y.ID}) {
		t.Fatalf("close released %v; want %s (it read no hold of B before opening the latch)", res.Released, y.ID)
	}
	if err == nil || !strings.Contains(err.Error(), "case(s) B placed a hold on it while this close opened") {
		t.Fatalf("close: %v; want the open latch of a held key reported", err)
	}
	if placeErr == nil || !strings.Contains(placeErr.Error(), "hold recorded, but its key's deletion latch is open (a case close and a hold at the same moment)") {
		t.Fatalf("hold place: %v; want the open latch reported", placeErr)
	}
}

// beforeNthGet is a catalog.Store that runs Before once, just ahead of
// its nth read of Path: a reader's read between two others.
type beforeNthGet struct {
	catalog.Store
	Path   string
	N      int
	Before func()
	mu     sync.Mutex
	reads  int
}

func (r *beforeNthGet) Get(ctx context.Context, path string) (*catalog.Record, error) {
	if path == r.Path {
		r.mu.Lock()
		r.reads++
		nth := r.reads == r.N
		r.mu.Unlock()
		if nth {
			r.Before()
		}
	}
	return r.Store.Get(ctx, path)
}

// pausedAtWrite returns a records wrapper that, at its first write of a
// path starting with prefix, signals reached and waits for resume.
func pausedAtWrite(prefix string, reached, resume chan struct{}) func(catalog.Store) catalog.Store {
	return func(s catalog.Store) catalog.Store {
		return &shredtest.BeforeWrite{Store: s, Prefix: prefix, Before: func() { close(reached); <-resume }}
	}
}

// A hold release and a hold place of case ONE both find ONE open before
// its close begins. The close reads ONE's hold record active; the release
// then marks it released with its reason, so the close's own release of
// it writes nothing; the place then re-activates it, before the close
// opens the key's latch. The close, which lists every case's hold records
// again after its latches, ONE's included, reports ONE's active hold on
// the unlatched backup and stays closing, rather than marking ONE closed
// with it.
func TestCloseReportsItsOwnHoldReactivatedDuringIt(t *testing.T) {
	srv, adminV, complianceV := roles(t)
	y, _ := protect(t, adminV, []byte("released, placed and closed at once"))
	openCase(t, complianceV, "ONE")
	hold(t, complianceV, "ONE", y.ID)
	path := "holds/ONE/" + y.ID
	relReached, relResume, relDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	plReached, plResume, plDone := make(chan struct{}), make(chan struct{}), make(chan struct{})
	releaser := officer(t, srv, pausedAtWrite(path, relReached, relResume), nil)
	placer := officer(t, srv, pausedAtWrite(path, plReached, plResume), nil)
	var relErr, plErr error
	go func() {
		_, relErr = releaser.ReleaseHolds(context.Background(), compliance, "ONE", []string{y.ID}, "placed by mistake")
		close(relDone)
	}()
	go func() {
		_, plErr = placer.PlaceHolds(context.Background(), compliance, "ONE", shred.HoldSelector{IDs: []string{y.ID}})
		close(plDone)
	}()
	<-relReached
	<-plReached
	closer := officer(t, srv, func(s catalog.Store) catalog.Store {
		released := &beforeNthGet{Store: s, Path: path, N: 2, Before: func() { close(relResume); <-relDone }}
		return &shredtest.BeforeWrite{Store: released, Prefix: "backups/" + y.ID, Before: func() { close(plResume); <-plDone }}
	}, nil)
	res, err := closer.CloseCase(context.Background(), compliance, closeRequest("ONE"))
	if relErr != nil || plErr != nil {
		t.Fatalf("hold release %v, hold place %v during the close", relErr, plErr)
	}
	if h := insiderHold(t, srv, "ONE", y.ID); h["releasedAt"] != nil {
		t.Fatalf("ONE's hold record was not re-activated during the close: %v", h)
	}
	if alive, latched := keyAlive(t, srv, y.Key); !alive || latched {
		t.Fatalf("key after the close: alive %t, latched %t; want it unlatched", alive, latched)
	}
	if err == nil || !strings.Contains(err.Error(), "case(s) ONE placed a hold on it while this close opened its key's deletion latch") {
		t.Fatalf("close with its own hold re-activated during it: %+v %v", res, err)
	}
	if c, _, _ := complianceV.GetCase(context.Background(), "ONE"); c == nil || c.State != catalog.CaseClosing {
		t.Fatalf("case ONE after the close: %+v, want closing", c)
	}
}
