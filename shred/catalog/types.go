package catalog

import (
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// State is where a backup is in its lifecycle.
type State string

// The lifecycle of DESIGN.md. Protecting is an intent written before the
// step it names, so a crash never leaves a backup unaccounted. Destroying
// is what versions before the runs' intents (Intent) wrote before deleting
// a key; it is still read, and no longer written.
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
	// File is the file as the system knows it when its protect began. It
	// is written in the status record only, never registered or attested
	// (the registration takes FileInfo alone), and decides only whether a
	// re-run may remove an unfinished protect's ciphertext as its own.
	File *FileID `json:"file,omitempty"`
}

// FileID identifies a file beyond its size and modification time, which
// cp -p, rsync -t or tar x reproduce for other data: its device, inode
// and inode change time, which no user sets. Device and inode are
// decimal strings in JSON: Vault decodes numbers as float64, which keeps
// 53 bits, and inode numbers above that (Lustre, GlusterFS) would come
// back changed, so an unchanged file would never match.
type FileID struct {
	Device uint64    `json:"device,string"`
	Inode  uint64    `json:"inode,string"`
	Ctime  time.Time `json:"ctime"`
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
	// CiphertextAbsent is true when the ciphertext was already gone when
	// shred came to delete it.
	CiphertextAbsent bool `json:"ciphertextAbsent,omitempty"`
	// CiphertextRemoved names what was removed: the file, or each S3
	// object version.
	CiphertextRemoved []string `json:"ciphertextRemoved,omitempty"`
	CiphertextNote    string   `json:"ciphertextNote,omitempty"`
	// Recorded was set by earlier versions once the ledger listed the
	// destruction. It is read from old records and decides nothing: the
	// verified ledger alone says whether a destruction is recorded.
	Recorded bool `json:"recorded,omitempty"`
}

// Backup is a catalog entry, stored at KV backups/<id>.
type Backup struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	System      string            `json:"system,omitempty"`
	Controllers []string          `json:"controllers,omitempty"`
	Categories  []string          `json:"categories,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	State       State             `json:"state"`
	Key         string            `json:"key"`
	Ciphertext  FileInfo          `json:"ciphertext"`
	Plaintext   FileInfo          `json:"plaintext"`
	Original    *Original         `json:"original,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	CreatedBy   string            `json:"createdBy"`
	HeldBy      []string          `json:"heldBy,omitempty"`
	ReleasedAt  time.Time         `json:"releasedAt,omitzero"`
	ShredAfter  time.Time         `json:"shredAfter,omitzero"`
	ShredCase   string            `json:"shredCase,omitempty"`
	// ClosedCases are the cases whose close lifted their hold on the
	// backup: a run of any of them may destroy it, and records that in
	// the case's destruction records (Destructions).
	ClosedCases  []string     `json:"closedCases,omitempty"`
	CancelledAt  time.Time    `json:"cancelledAt,omitzero"`
	Destruction  *Destruction `json:"destruction,omitempty"`
	FailedReason string       `json:"failedReason,omitempty"`

	// OtherDestructions are what other runs recorded of the key's
	// destruction besides Destruction (ApplyDestructions).
	OtherDestructions []*Destruction `json:"-"`
	// Registered is true when the write-once registration was found and
	// its facts replaced the status record's.
	Registered bool `json:"-"`
}

// NewBackupID returns a fresh, time-ordered backup id.
func NewBackupID() string { return "bk-" + strings.ToLower(ulid.Make().String()) }
