package shred

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// State is where a backup is in its lifecycle.
type State string

// The lifecycle of DESIGN.md. Protecting and Destroying are intents written
// before the step they name, so a crash never leaves a backup unaccounted.
const (
	StateProtecting State = "protecting"
	StateProtected  State = "protected"
	StateHeld       State = "held"
	StateReleased   State = "released"
	StatePending    State = "pending"
	StateDestroying State = "destroying"
	StateShredded   State = "shredded"
	StateFailed     State = "failed"
)

// States lists every state, for validation of --state.
var States = []State{StateProtecting, StateProtected, StateHeld, StateReleased, StatePending, StateDestroying, StateShredded, StateFailed}

// Categories is the closed list of GDPR special categories (Art. 9 and 10)
// a backup may be tagged with.
var Categories = []string{
	"ethnicity", "political", "religion", "trade-union", "genetic",
	"biometric", "health", "sex-life", "criminal", "national-id", "children",
}

// FileInfo describes one file by location, size and SHA-256.
type FileInfo struct {
	Path   string    `json:"path"`
	Size   int64     `json:"size"`
	SHA256 string    `json:"sha256"`
	Mtime  time.Time `json:"mtime,omitzero"`
}

// Original is the plaintext the backup was made from.
type Original struct {
	FileInfo
	// EncryptedAfterFirstStorage is true when the data existed unencrypted
	// before protect: crypto-shredding alone does not erase that copy.
	EncryptedAfterFirstStorage bool      `json:"encryptedAfterFirstStorage"`
	Disposal                   *Disposal `json:"disposal,omitempty"`
}

// Disposal records what became of the plaintext original.
type Disposal struct {
	Method   string       `json:"method"`
	At       time.Time    `json:"at"`
	By       string       `json:"by"`
	Note     string       `json:"note"`
	Evidence *DocumentRef `json:"evidence,omitempty"`
}

// DocumentRef names a document by file name and SHA-256.
type DocumentRef struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

// Destruction is what shred did and verified for a backup.
type Destruction struct {
	VersionsDestroyed []int     `json:"versionsDestroyed"`
	DestroyedAt       time.Time `json:"destroyedAt"`
	DestroyedBy       string    `json:"destroyedBy"`
	Verification      string    `json:"verification"`
	VerifiedAt        time.Time `json:"verifiedAt"`
	MountPresent      bool      `json:"mountPresent"`
	CiphertextDeleted bool      `json:"ciphertextDeleted"`
	CiphertextNote    string    `json:"ciphertextNote,omitempty"`
	Recorded          bool      `json:"recorded"`
}

// Backup is a catalog entry, stored at KV backups/<id>.
type Backup struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	System       string            `json:"system,omitempty"`
	Controllers  []string          `json:"controllers,omitempty"`
	Categories   []string          `json:"categories,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	State        State             `json:"state"`
	Key          string            `json:"key"`
	Ciphertext   FileInfo          `json:"ciphertext"`
	Plaintext    FileInfo          `json:"plaintext"`
	Original     *Original         `json:"original,omitempty"`
	CreatedAt    time.Time         `json:"createdAt"`
	CreatedBy    string            `json:"createdBy"`
	HeldBy       []string          `json:"heldBy,omitempty"`
	ReleasedAt   time.Time         `json:"releasedAt,omitzero"`
	ShredAfter   time.Time         `json:"shredAfter,omitzero"`
	ShredCase    string            `json:"shredCase,omitempty"`
	CancelledAt  time.Time         `json:"cancelledAt,omitzero"`
	Destruction  *Destruction      `json:"destruction,omitempty"`
	FailedReason string            `json:"failedReason,omitempty"`
}

// NewBackupID returns a fresh, time-ordered backup id.
func NewBackupID() string { return "bk-" + strings.ToLower(ulid.Make().String()) }

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id is usable as a catalog id: no path
// separators, no control characters, at most 128 characters.
func ValidID(id string) bool { return idRE.MatchString(id) }

func checkID(kind, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("invalid %s id %q: use 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit", kind, truncate(id, 40))
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// ValidCategory reports whether c is on the closed list of categories.
func ValidCategory(c string) bool { return slices.Contains(Categories, c) }

func backupPath(id string) string { return "backups/" + id }

// GetBackup reads a backup and the KV version to use for check-and-set.
func (v *Vault) GetBackup(ctx context.Context, id string) (*Backup, int, error) {
	if err := checkID("backup", id); err != nil {
		return nil, 0, err
	}
	var b Backup
	version, err := v.getJSON(ctx, backupPath(id), &b)
	if errors.Is(err, ErrNotFound) {
		return nil, 0, fmt.Errorf("backup %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, 0, err
	}
	if b.ID != id || b.Key != id {
		return nil, 0, fmt.Errorf("catalog entry backups/%s holds id %q and key %q: the catalog was edited (a backup's key is named after it)", id, truncate(b.ID, 40), truncate(b.Key, 40))
	}
	return &b, version, nil
}

// PutBackup writes b if the stored version is still cas (0: new).
func (v *Vault) PutBackup(ctx context.Context, b *Backup, cas int) (int, error) {
	return v.putJSON(ctx, backupPath(b.ID), b, cas)
}

// UpdateBackup applies change to backup id under check-and-set, retrying
// when another operator wrote first. change sees the latest record each
// time; if it returns an error nothing is written.
func (v *Vault) UpdateBackup(ctx context.Context, id string, change func(*Backup) error) (*Backup, error) {
	for attempt := 0; attempt < 50; attempt++ {
		b, version, err := v.GetBackup(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := change(b); err != nil {
			return b, err
		}
		if _, err = v.PutBackup(ctx, b, version); !errors.Is(err, ErrConflict) {
			return b, err
		}
		sleepJitter(ctx, attempt)
	}
	return nil, fmt.Errorf("backup %s: %w (gave up after many retries)", id, ErrConflict)
}

// BackupFilter selects backups in ListBackups; empty fields match all.
type BackupFilter struct {
	State  State
	System string
	Case   string
}

func (f BackupFilter) match(b *Backup) bool {
	return (f.State == "" || b.State == f.State) &&
		(f.System == "" || b.System == f.System) &&
		(f.Case == "" || slices.Contains(b.HeldBy, f.Case) || b.ShredCase == f.Case)
}

// ListBackups returns the catalog's backups that match f, oldest first.
func (v *Vault) ListBackups(ctx context.Context, f BackupFilter) ([]*Backup, error) {
	ids, err := v.kvList(ctx, "backups/")
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	backups, err := parallelMap(ctx, ids, 16, func(ctx context.Context, id string) (*Backup, error) {
		b, _, err := v.GetBackup(ctx, id)
		return b, err
	})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(backups, func(b *Backup) bool { return !f.match(b) }), nil
}
