package selo

import "context"

// AuditHistoryStore reads one actor's entries of one action from the audit
// log, newest first, a page at a time: the holder's signature history. The
// read is indexed (actor, action, seq), so a page costs the same whatever
// the size of the log.
type AuditHistoryStore interface {
	// ListAuditByActor returns up to limit entries with this actor and
	// action and Seq < beforeSeq (every entry when beforeSeq is 0), by Seq
	// descending.
	ListAuditByActor(ctx context.Context, actor, action string, beforeSeq int64, limit int) ([]*AuditEntry, error)
}

// HolderOrderStore finds the orders of one holder, for the holder portal.
type HolderOrderStore interface {
	// ListOrdersByHolderEmail returns up to limit orders whose holder's
	// e-mail is email (compared in lower case), newest first.
	ListOrdersByHolderEmail(ctx context.Context, email string, limit int) ([]*Order, error)
}

// CredentialApprovalStore changes how a credential's signatures are approved.
type CredentialApprovalStore interface {
	// SetCredentialApproval sets the credential's approval type and, in the
	// same transaction with its audit entry, marks its unused SADs used and
	// its pending or approved approvals dead (they were made under the old
	// method). ENOTFOUND when the credential does not exist.
	SetCredentialApproval(ctx context.Context, id string, approval ApprovalType, audit *AuditEntry) error
}
