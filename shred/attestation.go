package shred

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/cryptoshred/cryptoshred/attest"
	"github.com/cryptoshred/cryptoshred/internal/parallel"
	"github.com/cryptoshred/cryptoshred/shred/audit"
	"github.com/cryptoshred/cryptoshred/shred/catalog"
	"github.com/cryptoshred/cryptoshred/shred/errs"
	"github.com/cryptoshred/cryptoshred/shred/ledger"
)

// AttestOptions are what an attestation needs beyond the catalog.
type AttestOptions struct {
	Signer signature.Signer
	// SnapshotRetention is how long Vault snapshots taken before the
	// destruction are kept: they still hold the keys until then. It must
	// be declared; cryptoshred refuses to guess.
	SnapshotRetention time.Duration
	ToolVersion       string
	Operator          string
	// Timestampers are RFC 3161 authorities asked for a timestamp over the
	// attestation's signature; each must answer, before any key is
	// destroyed and again when the attestation is issued.
	Timestampers []Timestamper
	// Audit, if set, is Vault's audit log reconciled with the ledger
	// (ReconcileUnwraps): each backup's count of unwraps in it, and of
	// those without a recorded purpose, goes into the attestation.
	Audit *audit.Report
	// PartSize is the most backups one signed statement covers; a case of
	// more is attested in parts (attest/SCHEMA.md). 0 means
	// attest.DefaultPartSize; at most attest.MaxPartSize.
	PartSize int
	// Parts, if set, is handed each part as soon as it is stored, and the
	// Attestation then keeps the bytes of the first part only, so memory
	// does not grow with the number of parts. A part it fails to take is
	// still stored in Vault; the first such error is returned.
	Parts PartWriter
	// DiscardWritten, with Parts, drops the bytes of every part Parts
	// took, the first's too: the Attestation then keeps no envelope or
	// bundle (Envelope and Bundle are nil), only the parts' descriptions.
	// The CLI writes every part to a file and needs none of them after.
	DiscardWritten bool
}

// Timestamper obtains a checked RFC 3161 timestamp (a DER TimeStampResp)
// over the SHA-256 of message. *tsa.Client satisfies it.
type Timestamper interface {
	Timestamp(ctx context.Context, message []byte) ([]byte, error)
}

// timestampCheck is what checkAttestable has each authority timestamp.
var timestampCheck = []byte("cryptoshred timestamping authority check")

// Attestation is a signed deletion attestation as issued: the DSSE
// envelope, and the Sigstore bundle holding it with the timestamps over its
// signature. Envelope and Bundle are those of the first part; Parts has
// every part (one, with Of 1, for a whole attestation; those after the
// first without their bytes if AttestOptions.Parts took them), Backups the
// total.
type Attestation struct {
	ID         string
	Envelope   []byte
	Bundle     []byte
	Timestamps int
	Backups    int
	Parts      []*AttestationPart
	// LeftOut are the case's backups the attestation does not cover,
	// each with why; the error returned with the attestation names them
	// too.
	LeftOut []*ItemError
}

// residualRisks are stated in every attestation.
var residualRisks = []string{
	"Vault snapshots taken before destroyedAt contain the key until residualCopiesUntil; restoring one brings the key back",
	"file keys unwrapped by an authorised open may have been retained by that process",
	"plaintext copies made before the backup was protected are not erased by destroying its key (see each backup's original)",
}

// checkAttestable refuses, before any key is destroyed, a plan whose
// attestation could not be issued: no declared snapshot retention, no
// data controller on record, a signer that cannot sign (a Vault key the
// token may not use, say), or a timestamping authority that does not
// answer with a good timestamp.
func (s *Service) checkAttestable(ctx context.Context, plan *Plan, opts AttestOptions) error {
	if err := checkRetention(opts); err != nil {
		return err
	}
	if opts.Signer == nil {
		return errors.New("no signing key: a run must be able to sign its attestation")
	}
	if len(controllers(plan.Case, plan.backups())) == 0 {
		return errNoController(plan.Case.ID)
	}
	if err := checkStatable(plan.Case); err != nil {
		return errs.Refusedf("case %s's record could not be stated in an attestation, so %s: %v", plan.Case.ID, plan.DestroyedNothing(), err)
	}
	if err := checkParts(plan, opts); err != nil {
		return err
	}
	if _, err := opts.Signer.SignMessage(strings.NewReader("cryptoshred signer check")); err != nil {
		return errs.Refusedf("the signing key cannot sign, so no attestation could be issued: %v", err)
	}
	for _, t := range opts.Timestampers {
		if _, err := t.Timestamp(ctx, timestampCheck); err != nil {
			return errs.Refusedf("no trusted timestamp could be issued, so %s: %v", plan.DestroyedNothing(), err)
		}
	}
	return nil
}

func checkRetention(opts AttestOptions) error {
	if opts.SnapshotRetention <= 0 {
		return errors.New("the Vault snapshot retention must be declared (--vault-snapshot-retention): the attestation states until when snapshots may still hold the keys")
	}
	return nil
}

// Attest issues a signed attestation covering every backup of a closed
// case whose key destruction the verified ledger records, in parts of
// opts.PartSize backups when there are more. It stores each envelope in
// KV attestations/<id> (attestations/<id>-pNNNN for a part) and records
// each in the ledger.
func (s *Service) Attest(ctx context.Context, actor Actor, caseID string, opts AttestOptions) (*Attestation, error) {
	if err := checkRetention(opts); err != nil {
		return nil, err
	}
	c, _, err := s.catalog.GetCase(ctx, caseID)
	if err != nil {
		return nil, err
	}
	return s.issue(ctx, actor, c, opts, nil)
}

// newBundle asks every timestamper for a timestamp over env's signature
// and wraps env and the timestamps in a Sigstore bundle.
func newBundle(ctx context.Context, env []byte, opts AttestOptions) ([]byte, error) {
	sig, err := attest.EnvelopeSignature(env)
	if err != nil {
		return nil, err
	}
	var stamps [][]byte
	for _, t := range opts.Timestampers {
		ts, err := t.Timestamp(ctx, sig)
		if err != nil {
			return nil, fmt.Errorf("failed to timestamp the attestation: %w", err)
		}
		stamps = append(stamps, ts)
	}
	pub, err := opts.Signer.PublicKey(options.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("failed to get the signer's public key: %w", err)
	}
	return attest.NewBundle(env, pub, stamps)
}

// ListAttestations returns the index of the stored attestations, oldest
// first, only caseID's unless it is empty.
func (s *Service) ListAttestations(ctx context.Context, caseID string) ([]*catalog.AttestationInfo, error) {
	return s.catalog.ListAttestations(ctx, caseID)
}

// GetAttestation returns a stored envelope, checked against the SHA-256
// recorded when it was stored: a whole attestation, or one part by its
// stored id (PartID).
func (s *Service) GetAttestation(ctx context.Context, id string) ([]byte, error) {
	return s.catalog.GetAttestation(ctx, id)
}

// ledgerFacts is what the attestation takes from the (verified) ledger.
type ledgerFacts struct {
	head ledger.Head
	// slots is the digest of the slots up to head when one of them is not
	// a checked entry (ledger.Report.AllChecked), else "".
	slots   string
	unwraps map[string]attest.KeyUnwraps
	holds   map[string][]attest.Hold
	// openHolds are the placements of holds not released yet, by case
	// and backup.
	openHolds openSpans
	destroyed map[string]bool
	// destructions are, by backup, the digests of its destruction that
	// the first entry of each case listing it recorded, in ledger order
	// (recordedDigest).
	destructions map[string][]listedDigest
	// restored are the plaintext copies opens wrote, by backup.
	restored map[string][]attest.RestoredCopy
	// storage are the storage holds the ledger records; storageHolds,
	// by backup, those the attestation states.
	storage      *storageHoldSpans
	storageHolds map[string]*attest.Span
	// audit is the audit log's reconciliation, if the caller read one.
	audit *audit.Report
}

// deletion is an attestation as checked, before its subjects are
// described: the predicate without backups, the backups it covers sorted
// by id, and what describing each needs. describe turns one part's
// backups into subjects when that part is signed, so that only one part's
// subjects are held at a time.
type deletion struct {
	predicate       *attest.Deletion
	backups         []*catalog.Backup
	facts           *ledgerFacts
	sameDataStillIn map[string][]string
	nameCounts      map[string]int
	caseControllers []string
	// sizes are how many bytes each of backups adds to a statement.
	sizes []int
}

// buildDeletion assembles the attestation from what it checked: each
// subject's key read back from Vault as gone, its destruction in the
// verified ledger, no active hold on it, its digest from its write-once
// registration. Subjects that fail a check are left out and returned. A
// run's own status records and key read-backs (known) are not read again.
func (s *Service) buildDeletion(ctx context.Context, actor Actor, c *catalog.Case, opts AttestOptions, known *runReads) (*deletion, []*ItemError, error) {
	caseID := c.ID
	backups, unreadable, err := s.shreddedBackups(ctx, caseID, known)
	if err != nil {
		return nil, nil, err
	}
	facts, err := s.ledgerFacts(ctx, backupIDs(backups))
	if err != nil {
		return nil, nil, err
	}
	facts.audit = opts.Audit
	backups, excluded, err := s.checkSubjects(ctx, caseID, backups, facts, known)
	if err != nil {
		return nil, nil, err
	}
	excluded = append(unreadable, excluded...)
	backups, unchecked := s.ciphertextsAtSigning(ctx, backups)
	excluded = append(excluded, unchecked...)
	facts.storageHolds = s.storageHoldsToState(ctx, facts.storage.spans(), backups)
	if len(backups) == 0 {
		return nil, nil, errNothingToAttest(caseID, excluded)
	}
	if len(controllers(c, backups)) == 0 {
		return nil, nil, errNoController(caseID)
	}
	ks, err := s.keyStore(ctx, opts.SnapshotRetention)
	if err == nil {
		err = ks.CheckRetention() // the only way describing a subject fails: checked before any part is signed
	}
	if err != nil {
		return nil, nil, err
	}
	same, err := s.sameDataElsewhere(ctx, backups)
	if err != nil {
		return nil, nil, err
	}
	slices.SortFunc(backups, func(a, b *catalog.Backup) int { return strings.Compare(a.ID, b.ID) })
	d := &deletion{predicate: s.predicate(actor, c, opts, ks, facts, backups), facts: facts, sameDataStillIn: same,
		nameCounts: nameCounts(backups), caseControllers: controllers(c, nil)}
	backups, invalid := d.validBackups(backups)
	excluded = append(excluded, invalid...)
	switch {
	case len(backups) == 0:
		return nil, nil, errNothingToAttest(caseID, excluded)
	case len(controllers(c, backups)) == 0:
		return nil, nil, errNoController(caseID)
	}
	d.backups, d.predicate.Controllers = backups, controllers(c, backups)
	return d, excluded, nil
}

func errNoController(caseID string) error {
	return errs.Refusedf("no data controller is recorded for case %s or its backups: name one with case controller add (or case open --controller, backup protect --controller)", caseID)
}

// predicate returns the attestation's predicate, without its backups.
func (s *Service) predicate(actor Actor, c *catalog.Case, opts AttestOptions, ks attest.KeyStore, facts *ledgerFacts, backups []*catalog.Backup) *attest.Deletion {
	return &attest.Deletion{
		AttestationID: "att-" + strings.ToLower(ulid.Make().String()),
		IssuedAt:      catalog.Now(),
		Controllers:   controllers(c, backups),
		Case:          attestCase(c),
		Method: attest.Method{Standard: attest.MethodStandard, Category: attest.MethodCategory, Technique: attest.MethodTechnique,
			Cipher: "age v1: file key wrapped by Vault Transit aes256-gcm96; payload ChaCha20-Poly1305", KeyStrengthBits: 256},
		KeyStore:      ks,
		Operator:      attest.Operator{Name: opts.Operator, VaultIdentity: attest.VaultIdentity(actor)},
		ResidualRisks: residualRisks,
		Tool:          attest.Tool{Name: "cryptoshred", Version: opts.ToolVersion},
		Ledger:        attest.Ledger{Head: facts.head.Hash, Entries: facts.head.Seq, Slots: facts.slots},
	}
}

// describe returns the predicate with backups (one part's, or all) as
// its subjects, and their ciphertexts' digests by subject name.
func (d *deletion) describe(backups []*catalog.Backup) (attest.Deletion, map[string]string, error) {
	p := *d.predicate
	p.Backups = make([]attest.Backup, 0, len(backups))
	digests := make(map[string]string, len(backups))
	for _, b := range backups {
		ab, err := d.entry(b)
		if err != nil {
			return p, nil, err
		}
		p.Backups = append(p.Backups, ab)
		digests[ab.Subject] = b.Ciphertext.SHA256
	}
	return p, digests, nil
}

// backupIDs returns the set of backups' ids.
func backupIDs(backups []*catalog.Backup) map[string]bool {
	out := make(map[string]bool, len(backups))
	for _, b := range backups {
		out[b.ID] = true
	}
	return out
}

// checkSubjects keeps the backups whose destruction checks out now and
// returns why each other one was left out. It reads every hold record on
// them once.
func (s *Service) checkSubjects(ctx context.Context, caseID string, backups []*catalog.Backup, facts *ledgerFacts, known *runReads) ([]*catalog.Backup, []*ItemError, error) {
	ids := make([]string, len(backups))
	for i, b := range backups {
		ids[i] = b.ID
	}
	held, _, err := s.catalog.ActiveHoldsAndOwn(ctx, ids, caseID)
	if err != nil {
		return nil, nil, err
	}
	problems, err := parallel.Map(ctx, backups, DefaultParallel, func(ctx context.Context, b *catalog.Backup) (string, error) {
		return s.subjectProblem(ctx, b, held[b.ID], facts, known)
	})
	if err != nil {
		return nil, nil, err
	}
	// The keys were read back as absent; the mount, confirmed once after
	// them, rules out a missing mount taken for destroyed keys.
	if err := s.keys.CheckMount(ctx); err != nil {
		return nil, nil, fmt.Errorf("could not confirm the transit mount after reading the keys back: %w", err)
	}
	ok, excluded := leaveOut(backups, func(i int) error {
		if problems[i] == "" {
			return nil
		}
		return errs.Refusedf("left out of the attestation: %s", problems[i])
	})
	return ok, excluded, nil
}

// leaveOut splits backups into those why(i) finds nothing against and,
// for each other one, why it is left out.
func leaveOut(backups []*catalog.Backup, why func(i int) error) (ok []*catalog.Backup, excluded []*ItemError) {
	for i, b := range backups {
		if err := why(i); err != nil {
			excluded = append(excluded, &ItemError{ID: b.ID, Err: err})
		} else {
			ok = append(ok, b)
		}
	}
	return ok, excluded
}

// subjectProblem says why b cannot be attested as destroyed, or "". An
// error is a failure to ask Vault at all. Vault's answer comes before the
// ledger's: a key still there makes the record of its destruction false,
// however the ledger got to list it or not.
func (s *Service) subjectProblem(ctx context.Context, b *catalog.Backup, heldBy []string, facts *ledgerFacts, known *runReads) (string, error) {
	switch {
	case releasable(b) != nil:
		return releasable(b).Error(), nil
	case len(heldBy) > 0:
		return "held by case(s) " + strings.Join(heldBy, ", ") + ", and no attestation covers a held backup", nil
	}
	gone, err := s.keyGone(ctx, b, known)
	switch {
	case err != nil:
		return "", err
	case !gone:
		return "its key " + b.Key + " is still in Vault, so the catalog's record of its destruction is false", nil
	case !facts.destroyed[b.ID]:
		return "the verified ledger records no destruction of its key yet (another shred run may be recording it now; once none is running, shred run records it)", nil
	}
	return destructionEdited(b, facts), nil
}

// keyGone reports whether Vault answers that b's key does not exist. A
// key the run itself deleted and read back as gone (known) is not read
// again.
func (s *Service) keyGone(ctx context.Context, b *catalog.Backup, known *runReads) (bool, error) {
	if known.keyReadBack(b.ID) {
		return true, nil
	}
	return s.keys.KeyAbsent(ctx, b.Key)
}

// ciphertextsAtSigning asks the storage about the ciphertext of each of
// backups, those of the run's own records too (a record the run took from
// another writer says what that writer wrote), and returns those it could
// ask and why each other one is left out.
func (s *Service) ciphertextsAtSigning(ctx context.Context, backups []*catalog.Backup) ([]*catalog.Backup, []*ItemError) {
	problems, _ := parallel.Map(ctx, backups, DefaultParallel, func(ctx context.Context, b *catalog.Backup) (error, error) {
		return s.ciphertextAtSigning(ctx, b), nil
	})
	return leaveOut(backups, func(i int) error {
		if problems[i] == nil {
			return nil
		}
		return fmt.Errorf("left out of the attestation: %w", problems[i])
	})
}

// shreddedBackups returns the case's backups that the destruction
// records of its runs, or of another case whose close released them, say
// are shredded (or, from versions before those records, their status
// records); refuses if there are none. Whether Vault has the key and the
// ledger records each destruction is checked after (checkSubjects). The
// records a run wrote itself (known) are not read again, but what other
// runs recorded of the same keys is kept beside them. A status record
// that cannot be read, of a backup whose key is gone, is returned as why
// that backup is left out: it does not stop the attestation of the others.
func (s *Service) shreddedBackups(ctx context.Context, caseID string, known *runReads) ([]*catalog.Backup, []*ItemError, error) {
	ids, err := s.catalog.HeldIDs(ctx, caseID)
	if err != nil {
		return nil, nil, err
	}
	records := s.destructionRecords()
	var mu sync.Mutex
	var unreadable []*ItemError
	all, err := parallel.Map(ctx, ids, DefaultParallel, func(ctx context.Context, id string) (*catalog.Backup, error) {
		if b, ok := known.record(id); ok {
			ds, err := records.of(ctx, b, caseID)
			b.OtherDestructions = slices.DeleteFunc(ds, b.Destruction.SameKeyDestruction) // ds are copies
			return b, err
		}
		b, _, err := s.catalog.GetBackup(ctx, id)
		if err == nil {
			ds, err := records.of(ctx, b, caseID)
			b.ApplyDestructions(ds)
			return b, err
		}
		if errors.Is(err, errs.ErrNotFound) && !s.registered(ctx, id) {
			return nil, nil // a hold record of no backup (one written by hand) has nothing to attest
		}
		if !errors.Is(err, catalog.ErrMalformed) && !errors.Is(err, errs.ErrNotFound) {
			return nil, err
		}
		gone, kerr := s.keys.KeyAbsent(ctx, id)
		if kerr == nil && gone {
			mu.Lock()
			unreadable = append(unreadable, &ItemError{ID: id, Err: errs.Refusedf("left out of the attestation: its key is gone, but its status record cannot be read: %v", err)})
			mu.Unlock()
		}
		return nil, kerr
	})
	if err != nil {
		return nil, nil, err
	}
	done := slices.DeleteFunc(all, func(b *catalog.Backup) bool {
		return b == nil || b.State != catalog.StateShredded || b.Destruction == nil
	})
	if len(done) == 0 {
		return nil, nil, errs.Refusedf("case %s has no shredded backup to attest%s", caseID, unreadableNote(unreadable))
	}
	return done, unreadable, nil
}

// registered reports whether backup id has a registration, or may have
// one (it could not be read): a status record that reads as missing, as
// one emptied by hand does, then hides a backup, which is reported.
func (s *Service) registered(ctx context.Context, id string) bool {
	_, err := s.catalog.GetRegistration(ctx, id)
	return !errors.Is(err, errs.ErrNotFound)
}

func unreadableNote(unreadable []*ItemError) string {
	if len(unreadable) == 0 {
		return ""
	}
	return ": " + batchError(0, unreadable).Error()
}

func (s *Service) keyStore(ctx context.Context, retention time.Duration) (attest.KeyStore, error) {
	ks, err := s.keys.Describe(ctx)
	ks.SnapshotRetention = retention.String()
	return ks, err
}

// controllers are the data controllers of the case and of backups, each
// once; a blank name, which a record written by hand may hold, is not one.
func controllers(c *catalog.Case, backups []*catalog.Backup) []string {
	names := slices.Clone(c.Controllers)
	for _, b := range backups {
		names = append(names, b.Controllers...)
	}
	out := catalog.ControllerNames(names)
	slices.Sort(out)
	return out
}

func attestCase(c *catalog.Case) attest.Case {
	d := cmp.Or(c.Decision, &catalog.Decision{}) // a closed case has one; a record written by hand may not
	return attest.Case{ID: c.ID, Authority: c.Authority, Reference: c.Reference, OpenedAt: c.OpenedAt.UTC(), ClosedAt: c.ClosedAt.UTC(),
		Decision: attest.Decision{Reference: d.Reference, Document: attest.Document(d.Document), RecordedBy: d.RecordedBy, RecordedAt: d.RecordedAt.UTC()}}
}

// nameCounts counts the backups of each name.
func nameCounts(all []*catalog.Backup) map[string]int {
	n := map[string]int{}
	for _, b := range all {
		n[b.Name]++
	}
	return n
}

// subjectName is the ciphertext's file name, qualified by the backup id
// when two backups of the attestation share it, or when it is blank or
// holds a "/" (a registration written by hand may give "ID/name", which
// would name another backup's qualified subject). An id holds no "/", so
// qualified and unqualified names never meet.
func subjectName(b *catalog.Backup, names map[string]int) string {
	if names[b.Name] > 1 || strings.TrimSpace(b.Name) == "" || strings.Contains(b.Name, "/") {
		return b.ID + "/" + b.Name
	}
	return b.Name
}

// LeftOutError is the refusal of an attestation that no backup of the
// case checks out for. Its text lists only the first of the backups left
// out (BatchError); LeftOut holds them all, for a run to report
// (RunResult.LeftOut). It unwraps to the refusal alone: why a backup was
// left out (a changed ciphertext, say) is not why the command failed.
type LeftOutError struct {
	error
	LeftOut []*ItemError
}

// Unwrap returns the refusal.
func (e *LeftOutError) Unwrap() error { return e.error }

// errNothingToAttest refuses the attestation of caseID, none of whose
// backups checks out, naming those excluded and why.
func errNothingToAttest(caseID string, excluded []*ItemError) error {
	reason := "case " + caseID + " has no key destruction that checks out to attest"
	if len(excluded) > 0 {
		reason += ": " + batchError(0, excluded).Error()
	}
	return &LeftOutError{error: &errs.RefusedError{Reason: reason}, LeftOut: excluded}
}
