// Package shred is cryptoshred's application service: protect, register,
// restore and dispose of backups; open and close cases and place holds;
// and plan, run and attest the destruction of released keys. It reaches
// Vault and storage only through the interfaces below, implemented by
// shred/vault and shred/storage.
package shred

import (
	"context"
	"io"
	"slices"
	"time"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/agefile"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
	"github.com/cryptoshred/cryptoshred/shred/storage"
)

// DefaultParallel is how many backups are worked on at once.
const DefaultParallel = parallel.DefaultLimit

// Actor is who a Vault token belongs to, as Vault reports it.
type Actor = attest.VaultIdentity

// Keys is the key store that holds one key per backup (Vault Transit).
type Keys interface {
	agefile.Wrapper
	// KeyInfo reads name's metadata. A missing key returns (nil, nil),
	// but only once the store confirmed that its mount exists.
	KeyInfo(ctx context.Context, name string) (*KeyInfo, error)
	// CreateKey creates name as a non-exportable key whose deletion is
	// not allowed.
	CreateKey(ctx context.Context, name string) error
	// AllowDeletion opens name's deletion latch.
	AllowDeletion(ctx context.Context, name string) error
	// DeleteKey deletes name; a refusal because the latch is closed is
	// an errs.RefusedError, and a key already gone is not an error.
	DeleteKey(ctx context.Context, name string) error
	// KeyAbsent reads name back and reports whether it is gone.
	KeyAbsent(ctx context.Context, name string) (bool, error)
	// CheckMount fails unless the key mount exists and refuses to
	// create keys implicitly.
	CheckMount(ctx context.Context) error
	// Describe names the key store for the attestation.
	Describe(ctx context.Context) (attest.KeyStore, error)
}

// Guard tells who the caller is and checks, before anything changes,
// that the caller's role may do what it asks. The key store still
// enforces every request; a Guard only turns a half-done operation into a
// clear refusal.
type Guard interface {
	WhoAmI(ctx context.Context) (Actor, error)
	RequireAdmin(ctx context.Context, keyCaps ...string) error
	RequireCompliance(ctx context.Context) error
	RequireDecrypt(ctx context.Context, key string) error
}

// Config is what a Service is built from.
type Config struct {
	Records catalog.Store    // catalog and ledger records (Vault KV v2)
	Keys    Keys             // one key per backup (Vault Transit)
	Guard   Guard            // identity and capability checks
	Signer  ledger.Signer    // each role's ledger signing key (Vault Transit)
	Storage storage.Resolver // where ciphertexts live
}

// Service is the application. It is safe for concurrent use.
type Service struct {
	catalog *catalog.Catalog
	ledger  *ledger.Ledger
	keys    Keys
	guard   Guard
	storage storage.Resolver
}

// New returns the Service cfg describes.
func New(cfg Config) *Service {
	return &Service{catalog: catalog.New(cfg.Records), ledger: ledger.New(cfg.Records, cfg.Signer),
		keys: cfg.Keys, guard: cfg.Guard, storage: cfg.Storage}
}

// WhoAmI returns the caller's identity as the key store reports it.
func (s *Service) WhoAmI(ctx context.Context) (Actor, error) { return s.guard.WhoAmI(ctx) }

// TokenLife is how long the token in use still lives: a TTL of 0 is a
// token that does not expire (or a Guard that cannot tell).
type TokenLife struct {
	TTL       time.Duration
	Renewable bool
	Renewed   bool // KeepToken renewed it
}

// tokenKeeper is a Guard whose token expires and can be renewed (Vault's).
type tokenKeeper interface {
	KeepToken(ctx context.Context, margin time.Duration) (TokenLife, error)
}

// KeepToken renews the token in use if it expires within margin and may
// be renewed, and says how long it then lives, so that an operation that
// destroys keys, opens latches or places holds by the thousand does not
// stop halfway because its token ran out.
func (s *Service) KeepToken(ctx context.Context, margin time.Duration) (TokenLife, error) {
	k, ok := s.guard.(tokenKeeper)
	if !ok {
		return TokenLife{}, nil
	}
	return k.KeepToken(ctx, margin)
}

// GetBackup reads a backup and its version; one that a run of a case
// whose close released it recorded as destroyed reads as shredded
// (applyDestructions).
func (s *Service) GetBackup(ctx context.Context, id string) (*catalog.Backup, int, error) {
	b, version, err := s.catalog.GetBackup(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	return b, version, s.applyDestructions(ctx, []*catalog.Backup{b})
}

// ListBackups returns the backups that match f, oldest first, and the
// records it skipped because they are malformed. A backup is in the
// state applyDestructions gives it.
func (s *Service) ListBackups(ctx context.Context, f catalog.BackupFilter) ([]*catalog.Backup, []*catalog.RecordError, error) {
	state := f.State
	f.State = ""
	backups, bad, err := s.catalog.ListBackups(ctx, f)
	if err == nil {
		err = s.applyDestructions(ctx, backups)
	}
	if err != nil {
		return nil, nil, err
	}
	return slices.DeleteFunc(backups, func(b *catalog.Backup) bool { return state != "" && b.State != state }), bad, nil
}

// applyDestructions marks shredded each of backups that a destruction
// record of a case whose close released it names (catalog.Destructions):
// runs write no status record. Like a status record, such a record is the
// admin's to write, so this is for display; what decides asks Vault
// whether the key is gone.
func (s *Service) applyDestructions(ctx context.Context, backups []*catalog.Backup) error {
	records := s.destructionRecords()
	for _, b := range backups {
		ds, err := records.of(ctx, b, "")
		if err != nil {
			return err
		}
		b.ApplyDestructions(ds)
	}
	return nil
}

// Systems returns the names of the systems that have backups, sorted.
func (s *Service) Systems(ctx context.Context) ([]string, error) { return s.catalog.Systems(ctx) }

// GetCase reads a case and its version.
func (s *Service) GetCase(ctx context.Context, id string) (*catalog.Case, int, error) {
	return s.catalog.GetCase(ctx, id)
}

// ListCases returns every case, and the case records it skipped because
// they cannot be read as one.
func (s *Service) ListCases(ctx context.Context) ([]*catalog.Case, []*catalog.RecordError, error) {
	return s.catalog.ListCases(ctx)
}

// CaseHolds returns the holds a case placed, and the hold records it
// skipped because they cannot be read (each counts as an active hold).
func (s *Service) CaseHolds(ctx context.Context, caseID string) ([]*catalog.Hold, []*catalog.RecordError, error) {
	return s.catalog.ReadHolds(ctx, caseID)
}

// KeyInfo reads what the key store says about a backup's key.
func (s *Service) KeyInfo(ctx context.Context, name string) (*KeyInfo, error) {
	return s.keys.KeyInfo(ctx, name)
}

// VerifyLedger walks the whole ledger and checks every link.
func (s *Service) VerifyLedger(ctx context.Context) (*ledger.Report, error) {
	return s.ledger.Verify(ctx)
}

// Entries returns every ledger entry in order, after verifying the chain.
func (s *Service) Entries(ctx context.Context) ([]*ledger.Entry, error) {
	return s.ledger.Entries(ctx)
}

// AccessReport lists every open recorded in the verified ledger since
// from; a zero from means all.
func (s *Service) AccessReport(ctx context.Context, from time.Time) ([]ledger.Access, error) {
	entries, err := s.ledger.Entries(ctx)
	if err != nil {
		return nil, err
	}
	return ledger.Accesses(entries, from), nil
}

// ReconcileUnwraps matches the backup key unwraps read from Vault's audit
// log with the opens recorded in the verified ledger; see audit.Reconcile.
func (s *Service) ReconcileUnwraps(ctx context.Context, log *audit.Log, opts audit.Options) (*audit.Report, error) {
	entries, err := s.ledger.Entries(ctx)
	if err != nil {
		return nil, err
	}
	return audit.Reconcile(log, entries, opts), nil
}

// KeyType is the Transit key type of every backup key.
const KeyType = "aes256-gcm96"

// KeyInfo is what the key store says about a backup's key.
type KeyInfo struct {
	Name                 string `json:"name"`
	Type                 string `json:"type"`
	Exportable           bool   `json:"exportable"`
	AllowPlaintextBackup bool   `json:"allowPlaintextBackup"`
	DeletionAllowed      bool   `json:"deletionAllowed"`
	Versions             []int  `json:"versions"`
}

// Shreddable reports why a key cannot be crypto-shredded honestly: a key
// that was ever exportable or backed up in plaintext may exist outside Vault.
func (k *KeyInfo) Shreddable() error {
	switch {
	case k.Exportable:
		return errs.Refusedf("key %s is exportable: copies may exist outside Vault, so destroying it proves nothing", k.Name)
	case k.AllowPlaintextBackup:
		return errs.Refusedf("key %s allows plaintext backup: copies may exist outside Vault, so destroying it proves nothing", k.Name)
	}
	return nil
}

// appendEvent records ev in the ledger as actor.
func (s *Service) appendEvent(ctx context.Context, actor Actor, ev ledger.Event) error {
	_, err := s.ledger.Append(ctx, actor.String(), ev)
	return err
}

// ExportLedger writes a self-contained, offline-verifiable copy of the
// ledger to w (see ledger.WriteExport); caseID keeps one case's entries.
func (s *Service) ExportLedger(ctx context.Context, w io.Writer, caseID string) error {
	return ledger.WriteExport(ctx, s.ledger, w, caseID, catalog.Now())
}

// VerifyLedgerCheckpoints verifies the ledger and that every checkpoint
// (the heads attestations name) is still in the chain.
func (s *Service) VerifyLedgerCheckpoints(ctx context.Context, cps []ledger.Checkpoint) (*ledger.Report, error) {
	return ledger.VerifyCheckpoints(ctx, s.ledger, cps)
}
