package authority

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"sort"
	"time"

	"github.com/selo-qtsp/selo"
)

// auditPage is how many entries VerifyAudit reads at a time, so a long log is
// checked in bounded memory.
const auditPage = 1000

// VerifyAudit walks the whole audit log and returns how many entries it read
// and the first entry that was changed, removed or reordered (nil when intact).
func (a *Authority) VerifyAudit(ctx context.Context) (int64, *selo.AuditProblem, error) {
	var prev *selo.AuditEntry
	var n int64
	for {
		after := int64(0)
		if prev != nil {
			after = prev.Seq
		}
		page, err := a.store.ListAudit(ctx, after, auditPage)
		if err != nil {
			return n, nil, err
		}
		if len(page) == 0 {
			return n, nil, nil
		}
		if p := selo.VerifyAuditChain(prev, page); p != nil {
			return n, p, nil
		}
		n += int64(len(page))
		prev = page[len(page)-1]
	}
}

// auditHeader is a store that records the last audit entry appended apart
// from the log (both of Selo's stores do).
type auditHeader interface {
	AuditHead(ctx context.Context) (seq int64, hash string, err error)
}

// AuditKeyAction is the audit action recorded when the audit key is made.
const AuditKeyAction = "audit.key.create"

// EnsureAuditKey makes the audit key (selo.AuditKeyID) in the key store when
// there is none yet, as on the first start of a data directory made before
// checkpoints existed, and records that in the audit log. It reports whether
// it made the key.
func (a *Authority) EnsureAuditKey(ctx context.Context, actor string) (bool, error) {
	_, err := a.keys.Signer(ctx, selo.AuditKeyID)
	switch {
	case err == nil:
		return false, nil
	case selo.ErrorCode(err) != selo.ENOTFOUND:
		return false, fmt.Errorf("audit key: %w", err)
	}
	if _, err := a.keys.GenerateKey(ctx, selo.AuditKeyID, selo.KeyECDSAP256, selo.KeyOptions{}); err != nil {
		if selo.ErrorCode(err) == selo.ECONFLICT { // another process made it meanwhile
			return false, nil
		}
		return false, fmt.Errorf("generate the audit key: %w", err)
	}
	entry := a.audit(actor, AuditKeyAction, "key/"+selo.AuditKeyID, selo.OutcomeSuccess, map[string]string{"algorithm": string(selo.KeyECDSAP256)})
	if err := a.store.AppendAudit(ctx, entry); err != nil {
		return true, err
	}
	return true, nil
}

// auditPublicKey returns the public half of the audit key, or ENOTFOUND when
// the key store has none.
func (a *Authority) auditPublicKey(ctx context.Context) (crypto.PublicKey, error) {
	s, err := a.keys.Signer(ctx, selo.AuditKeyID)
	if err != nil {
		return nil, err
	}
	return s.Public(), nil
}

// AuditPublicKey returns the public half of the audit key for export, or
// ENOTFOUND when the key store has none.
func (a *Authority) AuditPublicKey(ctx context.Context) (crypto.PublicKey, error) {
	return a.auditPublicKey(ctx)
}

// verifyCheckpointSignature checks cp's signature with the audit key's public key.
func verifyCheckpointSignature(pub crypto.PublicKey, cp *selo.AuditCheckpoint) bool {
	if cp.KeyID != selo.AuditKeyID {
		return false
	}
	digest := sha256.Sum256(cp.SignedBytes())
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(k, digest[:], cp.Signature)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, digest[:], cp.Signature) == nil
	}
	return false
}

// CheckpointPolicy says when a running server signs an audit checkpoint.
type CheckpointPolicy struct {
	// Entries: sign once this many entries were appended since the last
	// checkpoint (DefaultCheckpointEntries when zero).
	Entries int64
	// Interval: sign once this long has passed since the last checkpoint and
	// at least one entry was appended (DefaultCheckpointInterval when zero).
	Interval time.Duration
}

// Defaults of CheckpointPolicy.
const (
	DefaultCheckpointEntries  = 100
	DefaultCheckpointInterval = 5 * time.Minute
)

func (p CheckpointPolicy) withDefaults() CheckpointPolicy {
	if p.Entries <= 0 {
		p.Entries = DefaultCheckpointEntries
	}
	if p.Interval <= 0 {
		p.Interval = DefaultCheckpointInterval
	}
	return p
}

// CheckpointAudit signs a checkpoint at the head of the audit log with the
// audit key, making the key first when there is none. It first checks that
// the entries since the last checkpoint still chain to it, so it never signs
// a log that was rewritten under an earlier checkpoint (ECONFLICT then). It
// returns nil, nil when no entry was appended since the last checkpoint.
func (a *Authority) CheckpointAudit(ctx context.Context, actor string) (*selo.AuditCheckpoint, error) {
	return a.checkpointAudit(ctx, actor, nil)
}

// CheckpointAuditIfDue signs a checkpoint when policy says one is due (see
// CheckpointPolicy); it returns nil, nil when none is.
func (a *Authority) CheckpointAuditIfDue(ctx context.Context, actor string, policy CheckpointPolicy) (*selo.AuditCheckpoint, error) {
	policy = policy.withDefaults()
	return a.checkpointAudit(ctx, actor, func(last *selo.AuditCheckpoint, headSeq int64) bool {
		if last == nil {
			return true
		}
		return headSeq-last.Seq >= policy.Entries || a.clock.Now().Sub(last.Time) >= policy.Interval
	})
}

func (a *Authority) checkpointAudit(ctx context.Context, actor string, due func(last *selo.AuditCheckpoint, headSeq int64) bool) (*selo.AuditCheckpoint, error) {
	if _, err := a.EnsureAuditKey(ctx, actor); err != nil {
		return nil, err
	}
	signer, err := a.keys.Signer(ctx, selo.AuditKeyID)
	if err != nil {
		return nil, fmt.Errorf("audit key: %w", err)
	}
	headSeq, headHash, err := a.auditHead(ctx)
	if err != nil || headSeq == 0 {
		return nil, err
	}
	cps, err := a.store.ListAuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	var last *selo.AuditCheckpoint
	for i := len(cps) - 1; i >= 0; i-- {
		if verifyCheckpointSignature(signer.Public(), cps[i]) {
			last = cps[i]
			break
		}
	}
	if last != nil && last.Seq >= headSeq {
		return nil, nil
	}
	if due != nil && !due(last, headSeq) {
		return nil, nil
	}
	// Check the entries from the last checkpoint to the head before vouching
	// for them.
	var prev *selo.AuditEntry
	after := int64(0)
	if last != nil {
		after = last.Seq - 1
	}
	for {
		page, err := a.store.ListAudit(ctx, after, auditPage)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		if prev == nil && last != nil {
			if page[0].Seq != last.Seq || page[0].Hash != last.Hash || page[0].ComputeHash() != page[0].Hash {
				return nil, selo.Errorf(selo.ECONFLICT, "the audit log does not match its checkpoint at entry %d: refusing to sign a new checkpoint (run 'selo audit verify')", last.Seq)
			}
			prev, page = page[0], page[1:]
		}
		if p := selo.VerifyAuditChain(prev, page); p != nil {
			return nil, selo.Errorf(selo.ECONFLICT, "audit log broken at entry %d: %s: refusing to sign a checkpoint (run 'selo audit verify')", p.Seq, p.Reason)
		}
		if len(page) > 0 {
			prev = page[len(page)-1]
		}
		if prev != nil && prev.Seq >= headSeq {
			break
		}
		after = prev.Seq
	}
	if prev == nil || prev.Seq < headSeq {
		return nil, selo.Errorf(selo.ECONFLICT, "audit log ends before its recorded head (entry %d): refusing to sign a checkpoint", headSeq)
	}
	// Entries appended after the head was read were walked too: anchor the
	// entry the head named, which the walk checked.
	page, err := a.store.ListAudit(ctx, headSeq-1, 1)
	if err != nil {
		return nil, err
	}
	if len(page) != 1 || page[0].Hash != headHash {
		return nil, selo.Errorf(selo.ECONFLICT, "audit entry %d does not match the recorded head of the log: refusing to sign a checkpoint", headSeq)
	}
	cp := &selo.AuditCheckpoint{Seq: headSeq, Hash: headHash, Time: a.clock.Now().UTC().Truncate(time.Microsecond), KeyID: selo.AuditKeyID}
	digest := sha256.Sum256(cp.SignedBytes())
	if cp.Signature, err = signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
		return nil, fmt.Errorf("sign audit checkpoint: %w", err)
	}
	if err := a.store.AppendAuditCheckpoint(ctx, cp); err != nil {
		return nil, err
	}
	return cp, nil
}

// auditHead returns the last entry of the log: from the store's recorded
// head when it keeps one, else from the log itself.
func (a *Authority) auditHead(ctx context.Context) (int64, string, error) {
	if h, ok := a.store.(auditHeader); ok {
		return h.AuditHead(ctx)
	}
	var last *selo.AuditEntry
	after := int64(0)
	for {
		page, err := a.store.ListAudit(ctx, after, auditPage)
		if err != nil {
			return 0, "", err
		}
		if len(page) == 0 {
			break
		}
		last = page[len(page)-1]
		after = last.Seq
	}
	if last == nil {
		return 0, "", nil
	}
	return last.Seq, last.Hash, nil
}

// RunAuditCheckpoints signs checkpoints as policy says, looking every tick,
// until ctx ends; then it signs a last one for the entries appended since (on
// shutdown) and returns. Errors are logged: a refusal to sign a rewritten log
// is an alarm for the operator, not a reason to stop serving.
func (a *Authority) RunAuditCheckpoints(ctx context.Context, policy CheckpointPolicy, tick time.Duration) {
	policy = policy.withDefaults()
	if tick <= 0 || tick > policy.Interval {
		tick = policy.Interval
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		if _, err := a.CheckpointAuditIfDue(ctx, "system", policy); err != nil && ctx.Err() == nil {
			a.log.Error("audit checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			if cp, err := a.CheckpointAudit(final, "system"); err != nil {
				a.log.Error("audit checkpoint on shutdown", "err", err)
			} else if cp != nil {
				a.log.Info("audit checkpoint on shutdown", "seq", cp.Seq)
			}
			cancel()
			return
		case <-t.C:
		}
	}
}

// AuditReport is what VerifyAuditLog found.
type AuditReport struct {
	// Entries is the number of entries checked and found intact (all of the
	// log when Problem is nil, those before Problem.Seq otherwise).
	Entries int64
	// Problem is the first place where the log does not hold: a broken chain
	// or an entry that no longer matches a signed checkpoint. Nil when intact.
	Problem *selo.AuditProblem
	// KeyMissing is set when the key store holds no audit key yet: no entry
	// is anchored. Unchecked counts the checkpoints found all the same (a
	// lost key, or the wrong key store): they cannot be checked.
	KeyMissing bool
	Unchecked  int
	// Checkpoints counts the checkpoints whose signature verified.
	Checkpoints int
	// AnchoredThrough is the last entry a valid checkpoint vouches for (0
	// when none); AnchoredAt is when that checkpoint was signed. Entries after
	// it are unproven: whoever can write the database could rewrite them.
	AnchoredThrough int64
	AnchoredAt      time.Time
	// KeyCreatedAt is the last entry that recorded an audit key's creation (0 if
	// the log holds none): entries before it were written while no key
	// existed and are anchored only from the first checkpoint on.
	KeyCreatedAt int64
}

// VerifyAuditLog walks the whole audit log as VerifyAudit does and also
// checks every signed checkpoint, those in the store and extra ones (an
// exported copy kept outside the database), against the audit key in the key
// store. A checkpoint whose signature does not verify, or whose entry no
// longer has the hash it signed, is a problem: the log was rewritten (an
// entry changed and every later hash recomputed) or the checkpoint forged.
func (a *Authority) VerifyAuditLog(ctx context.Context, extra []*selo.AuditCheckpoint) (*AuditReport, error) {
	r := &AuditReport{}
	cps, err := a.store.ListAuditCheckpoints(ctx)
	if err != nil {
		return nil, err
	}
	cps = mergeCheckpoints(cps, extra)
	pub, err := a.auditPublicKey(ctx)
	switch {
	case selo.ErrorCode(err) == selo.ENOTFOUND:
		r.KeyMissing = true
	case err != nil:
		return nil, fmt.Errorf("audit key: %w", err)
	}
	if !r.KeyMissing {
		for _, cp := range cps {
			if !verifyCheckpointSignature(pub, cp) {
				r.Problem = &selo.AuditProblem{Seq: cp.Seq, Reason: fmt.Sprintf(
					"the checkpoint at entry %d (signed %s) does not verify with the audit key: it was forged or changed", cp.Seq, cp.Time.Format(time.RFC3339))}
				return r, nil
			}
		}
	} else {
		r.Unchecked, cps = len(cps), nil
	}
	next := 0 // the next checkpoint to meet while walking
	var prev *selo.AuditEntry
	for {
		after := int64(0)
		if prev != nil {
			after = prev.Seq
		}
		page, err := a.store.ListAudit(ctx, after, auditPage)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		chainProblem := selo.VerifyAuditChain(prev, page)
		for _, e := range page {
			if chainProblem != nil && e.Seq >= chainProblem.Seq {
				break
			}
			if e.Action == AuditKeyAction {
				r.KeyCreatedAt = e.Seq
			}
			for next < len(cps) && cps[next].Seq == e.Seq {
				cp := cps[next]
				if cp.Hash != e.Hash {
					from := r.AnchoredThrough + 1
					r.Entries = r.AnchoredThrough
					r.Problem = &selo.AuditProblem{Seq: from, Reason: fmt.Sprintf(
						"log rewritten: entry %d no longer has the hash the checkpoint signed %s vouches for; an entry from %d to %d was changed and the hashes after it recomputed",
						e.Seq, cp.Time.Format(time.RFC3339), from, e.Seq)}
					return r, nil
				}
				r.Checkpoints++
				r.AnchoredThrough, r.AnchoredAt = cp.Seq, cp.Time
				next++
			}
		}
		if chainProblem != nil {
			r.Entries, r.Problem = chainProblem.Seq-1, chainProblem
			return r, nil
		}
		r.Entries += int64(len(page))
		prev = page[len(page)-1]
	}
	if next < len(cps) {
		cp := cps[len(cps)-1]
		r.Problem = &selo.AuditProblem{Seq: r.Entries + 1, Reason: fmt.Sprintf(
			"entries missing: the log ends at entry %d but the checkpoint signed %s vouches for %d entries", r.Entries, cp.Time.Format(time.RFC3339), cp.Seq)}
	}
	return r, nil
}

// mergeCheckpoints returns the checkpoints of both lists in Seq order, then
// Time, without duplicates.
func mergeCheckpoints(a, b []*selo.AuditCheckpoint) []*selo.AuditCheckpoint {
	seen := map[string]bool{}
	var out []*selo.AuditCheckpoint
	for _, cp := range append(append([]*selo.AuditCheckpoint{}, a...), b...) {
		k := string(cp.SignedBytes()) + string(cp.Signature)
		if !seen[k] {
			seen[k] = true
			out = append(out, cp)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].Time.Before(out[j].Time)
	})
	return out
}

// RecordDecision appends an audit entry for a security decision taken in
// front of the services, such as the HTTP layer refusing a request for the
// caller's roles, so that it joins the same hash chain as the services' own.
func (a *Authority) RecordDecision(ctx context.Context, entry *selo.AuditEntry) error {
	return a.store.AppendAudit(ctx, entry)
}

// AuditPage returns up to limit audit entries after sequence number after,
// oldest first, for the back office's paged view of the log; with after
// negative it returns the last limit entries.
func (a *Authority) AuditPage(ctx context.Context, after int64, limit int) ([]*selo.AuditEntry, error) {
	if limit <= 0 || limit > auditPage {
		return nil, selo.Errorf(selo.EINVALID, "a page of the audit log holds 1 to %d entries", auditPage)
	}
	if after < 0 {
		head, _, err := a.auditHead(ctx)
		if err != nil {
			return nil, err
		}
		after = max(head-int64(limit), 0)
	}
	return a.store.ListAudit(ctx, after, limit)
}
