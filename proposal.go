package selo

import (
	"context"
	"time"
)

// ProposalKind names an operation under dual control: one admin proposes
// it, a different admin approves it, and only then may it run, once.
type ProposalKind string

// The operations under dual control (EN 319 411-1 asks for multi-person
// control of CA keys).
const (
	// ProposalCACreate creates a CA (its key is generated in the key store).
	ProposalCACreate ProposalKind = "ca.create"
	// ProposalCARetire stops a CA from issuing.
	ProposalCARetire ProposalKind = "ca.retire"
	// ProposalProfileSet adds or replaces a certificate profile.
	ProposalProfileSet ProposalKind = "profile.set"
	// ProposalKeyDestroy destroys the key of a retired CA in the key store
	// (the end of a CA's life).
	ProposalKeyDestroy ProposalKind = "keystore.destroy-ca-key"
	// ProposalAdminGrant creates an operator account or an API key with the
	// admin role: without it one admin could make a second admin and
	// approve their own proposals.
	ProposalAdminGrant ProposalKind = "admin.grant"
)

// ProposalStatus is where a proposal stands.
type ProposalStatus string

// Proposal states. pending → approved → executing → executed | failed;
// pending → rejected. A pending or approved proposal past ExpiresAt is
// expired (the store reports it so); an expired one can be neither approved
// nor executed.
const (
	ProposalPending   ProposalStatus = "pending"
	ProposalApproved  ProposalStatus = "approved"
	ProposalRejected  ProposalStatus = "rejected"
	ProposalExecuting ProposalStatus = "executing"
	ProposalExecuted  ProposalStatus = "executed"
	ProposalFailed    ProposalStatus = "failed"
	ProposalExpired   ProposalStatus = "expired"
)

// Proposal is one operation waiting for, or done with, a second admin.
type Proposal struct {
	ID         string
	Kind       ProposalKind
	Params     string // JSON object, the operation's parameters
	Reason     string // why, in the proposer's words
	ProposedBy string // actor, e.g. "operator:ana" or "api:ops-ana"
	ProposedAt time.Time
	ExpiresAt  time.Time // neither approval nor execution after this
	Status     ProposalStatus
	DecidedBy  string // the approver or rejecter
	DecidedAt  time.Time
	Comment    string // the approver's or rejecter's words
	ExecutedBy string
	ExecutedAt time.Time
	Result     string // JSON object: what the execution made, or its error
}

// Expired reports whether p can no longer be approved or executed at now.
func (p *Proposal) Expired(now time.Time) bool {
	return (p.Status == ProposalPending || p.Status == ProposalApproved) && !now.Before(p.ExpiresAt)
}

// ProposalStore persists proposals. Each transition is a compare-and-set
// with its audit entry in the same transaction, so of two racing callers
// exactly one wins.
type ProposalStore interface {
	// CreateProposal inserts a pending proposal; ECONFLICT when the ID
	// exists.
	CreateProposal(ctx context.Context, p *Proposal, audit *AuditEntry) error
	// FindProposal returns the proposal, with Status ProposalExpired when it
	// expired unused at now, or ENOTFOUND.
	FindProposal(ctx context.Context, id string, now time.Time) (*Proposal, error)
	// ListProposals returns up to limit proposals, newest first; status ""
	// lists all, ProposalExpired those that expired unused.
	ListProposals(ctx context.Context, status ProposalStatus, now time.Time, limit int) ([]*Proposal, error)
	// DecideProposal moves a pending proposal that has not expired at now
	// to to (ProposalApproved or ProposalRejected) by by. An approval by
	// the proposer is EFORBIDDEN; a proposal not pending or expired is
	// ECONFLICT; ENOTFOUND when there is none.
	DecideProposal(ctx context.Context, id string, to ProposalStatus, by, comment string, now time.Time, audit *AuditEntry) (*Proposal, error)
	// ClaimProposal moves an approved proposal that has not expired at now
	// to executing by by, once: ECONFLICT for any other state.
	ClaimProposal(ctx context.Context, id, by string, now time.Time, audit *AuditEntry) (*Proposal, error)
	// FinishProposal records the end of a claimed execution: to is
	// ProposalExecuted or ProposalFailed, result a JSON object.
	FinishProposal(ctx context.Context, id string, to ProposalStatus, result string, audit *AuditEntry) error
}
