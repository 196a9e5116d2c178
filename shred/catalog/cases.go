package catalog

import "time"

// Case states.
const (
	CaseOpen    = "open"
	CaseClosing = "closing"
	CaseClosed  = "closed"
)

// Case is a data protection authority's case, stored at KV cases/<id>.
type Case struct {
	ID        string `json:"id"`
	Authority string `json:"authority"`
	Reference string `json:"reference"`
	// Controllers are the data controllers the case concerns; a ministry
	// and its agencies may share one case.
	Controllers []string  `json:"controllers,omitempty"`
	State       string    `json:"state"`
	OpenedAt    time.Time `json:"openedAt"`
	OpenedBy    string    `json:"openedBy"`
	Decision    *Decision `json:"decision,omitempty"`
	ClosedAt    time.Time `json:"closedAt,omitzero"`
}

// Decision is the authority's closing decision.
type Decision struct {
	Reference  string      `json:"reference"`
	Document   DocumentRef `json:"document"`
	RecordedBy string      `json:"recordedBy"`
	RecordedAt time.Time   `json:"recordedAt"`
}

// Hold is one case's hold on one backup, stored at KV holds/<case>/<backup>.
type Hold struct {
	Case       string    `json:"case"`
	Backup     string    `json:"backup"`
	PlacedAt   time.Time `json:"placedAt"`
	PlacedBy   string    `json:"placedBy"`
	ReleasedAt time.Time `json:"releasedAt,omitzero"`
	ReleasedBy string    `json:"releasedBy,omitempty"`
	// ReleaseReason is why a hold was released before its case closed
	// (hold release); empty for a release by case close.
	ReleaseReason string `json:"releaseReason,omitempty"`
	// StorageHeldAt and StorageReleasedAt are when the storage itself (an
	// S3 Object Lock legal hold) started and stopped holding the
	// ciphertext for this case; zero where the storage cannot hold.
	StorageHeldAt     time.Time `json:"storageHeldAt,omitzero"`
	StorageReleasedAt time.Time `json:"storageReleasedAt,omitzero"`
	// PlacedAfreshFrom is set by a hold place that re-activated this
	// record after a hold release the ledger does not record: the
	// sequence number its hold.placed entry will have at least (the
	// largest there is when the ledger could not be read). Until the
	// ledger holds, from there, a hold.placed entry of the case marking
	// the backup afresh, a hold place that finds the record active marks
	// its own entry afresh: the one that re-activated it may have been
	// stopped before its entry. Zero when no mark is due.
	PlacedAfreshFrom int64 `json:"placedAfreshFrom,omitempty"`
	// StorageHoldAhead is written before hold place sets the storage's
	// legal hold (with the record itself when its ciphertext is on a
	// storage that can hold): this case may have set it, even where
	// StorageHeldAt is zero because hold place stopped between setting
	// it and noting it. case close and hold release lift such a hold
	// too, as untimed: the ledger may not know when it began.
	StorageHoldAhead bool `json:"storageHoldAhead,omitempty"`
}
