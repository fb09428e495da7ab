package selo

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
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

// AuditKeyID is the key store ID of the audit key, the key that signs audit
// checkpoints. The database never holds it: whoever can rewrite the database
// cannot sign a checkpoint for a rewritten log.
const AuditKeyID = "audit/checkpoint"

// AuditCheckpoint is a signed statement that the audit log had Seq entries and
// that entry Seq's hash was Hash at Time. Because each hash covers every
// earlier entry, a checkpoint anchors the whole log up to Seq: an entry
// changed and every later hash recomputed (a re-chain) no longer matches it.
type AuditCheckpoint struct {
	Seq       int64     `json:"seq"`       // the head entry's sequence number: the number of entries covered
	Hash      string    `json:"hash"`      // the head entry's hash
	Time      time.Time `json:"time"`      // when it was signed, truncated to microseconds
	KeyID     string    `json:"key_id"`    // the key store ID of the key that signed it
	Signature []byte    `json:"signature"` // the signature over SignedBytes (ASN.1 ECDSA or PKCS#1 v1.5, SHA-256)
}

// SignedBytes returns the exact bytes the checkpoint's signature covers. The
// prefix names the purpose, so a checkpoint signature can never be taken for
// a signature on anything else the audit key might sign.
func (c *AuditCheckpoint) SignedBytes() []byte {
	return fmt.Appendf(nil, "selo audit checkpoint v1\nseq %d\nhash %s\ntime %s\nkey %s\n",
		c.Seq, c.Hash, c.Time.UTC().Format(time.RFC3339Nano), c.KeyID)
}

// AuditStore appends to and reads the audit log.
type AuditStore interface {
	// AppendAudit seals and appends one entry on its own (for events that change
	// nothing else, such as a refused request or a key generation).
	AppendAudit(ctx context.Context, entry *AuditEntry) error
	// ListAudit returns up to limit entries with Seq > afterSeq, in Seq order.
	ListAudit(ctx context.Context, afterSeq int64, limit int) ([]*AuditEntry, error)
	// AppendAuditCheckpoint stores a signed checkpoint; its Time is
	// truncated to microseconds.
	AppendAuditCheckpoint(ctx context.Context, cp *AuditCheckpoint) error
	// ListAuditCheckpoints returns every stored checkpoint in Seq order (then
	// Time), as stored, without checking them.
	ListAuditCheckpoints(ctx context.Context) ([]*AuditCheckpoint, error)
}
