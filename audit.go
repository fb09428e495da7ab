package selo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"time"
)

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// AuditEntry is one line of the append-only, hash-chained audit log. Each
// entry's Hash covers its own fields and the previous entry's hash, so a
// changed, removed or reordered entry breaks the chain at that point.
type AuditEntry struct {
	Seq      int64     // 1, 2, 3, ... assigned by the store
	Time     time.Time // truncated to microseconds before hashing
	Actor    string    // "operator", "cli", "api:<key name>", "holder:<account>", "system"
	Action   string    // dotted verb, e.g. "ca.create", "certificate.issue", "key.generate"
	Object   string    // what it acted on, e.g. "ca/root-ecc-v1", "certificate/0a1b..."
	Outcome  string    // OutcomeSuccess or OutcomeFailure
	Details  string    // JSON object with context; never a secret
	PrevHash string    // hex SHA-256 of the previous entry, "" for the first
	Hash     string    // hex SHA-256 of this entry
}

// Seal fills in Seq, PrevHash and Hash so that the entry follows prev (nil for
// the first entry) and truncates Time to microseconds, the precision every
// store keeps. Stores call it inside the transaction that appends the entry.
func (e *AuditEntry) Seal(prev *AuditEntry) {
	e.Seq, e.PrevHash = 1, ""
	if prev != nil {
		e.Seq, e.PrevHash = prev.Seq+1, prev.Hash
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	e.Hash = e.ComputeHash()
}

// ComputeHash returns the hex SHA-256 of the entry's fields and PrevHash, in a
// length-prefixed encoding so that no two different entries hash alike.
func (e *AuditEntry) ComputeHash() string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(e.Seq))
	h.Write(n[:])
	for _, f := range []string{
		e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Object, e.Outcome, e.Details, e.PrevHash,
	} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AuditProblem names the first entry where the chain does not hold.
type AuditProblem struct {
	Seq    int64  // the entry's sequence number as stored (or expected, when missing)
	Reason string // e.g. "hash mismatch: entry was changed", "entry missing", "out of order"
}

// VerifyAuditChain checks entries in the order given against each other and
// returns the first problem, or nil when the chain is intact. prev is the entry
// before entries[0] (nil when entries start at the beginning of the log), so a
// long log can be verified page by page.
func VerifyAuditChain(prev *AuditEntry, entries []*AuditEntry) *AuditProblem {
	for _, e := range entries {
		wantSeq, wantPrev := int64(1), ""
		if prev != nil {
			wantSeq, wantPrev = prev.Seq+1, prev.Hash
		}
		switch {
		case e.Seq > wantSeq:
			return &AuditProblem{Seq: wantSeq, Reason: "entry missing: the log jumps from " + strconv.FormatInt(wantSeq-1, 10) + " to " + strconv.FormatInt(e.Seq, 10)}
		case e.Seq < wantSeq:
			return &AuditProblem{Seq: e.Seq, Reason: "entry out of order or duplicated"}
		case e.ComputeHash() != e.Hash:
			return &AuditProblem{Seq: e.Seq, Reason: "hash mismatch: the entry was changed"}
		case e.PrevHash != wantPrev:
			return &AuditProblem{Seq: e.Seq, Reason: "chain broken: the previous entry was changed, removed or reordered"}
		}
		prev = e
	}
	return nil
}

// AuditStore appends to and reads the audit log.
type AuditStore interface {
	// AppendAudit seals and appends one entry on its own (for events that change
	// nothing else, such as a refused request or a key generation).
	AppendAudit(ctx context.Context, entry *AuditEntry) error
	// ListAudit returns up to limit entries with Seq > afterSeq, in Seq order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*AuditEntry, error)
}
