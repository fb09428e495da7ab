package control

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/selo-qtsp/selo"
)

// Bounds of what a proposal carries.
const (
	maxProposalParams = 64 << 10 // a profile file fits
	maxProposalReason = 1000
	// MaxListProposals bounds one page of ListProposals.
	MaxListProposals = 500
)

// Kinds returns the kinds that can be proposed, in no particular order.
func (s *Service) Kinds() []selo.ProposalKind {
	out := make([]selo.ProposalKind, 0, len(s.executors))
	for k := range s.executors {
		out = append(out, k)
	}
	return out
}

// Propose records a pending proposal of kind with params (a JSON object)
// by an admin. Its parameters are checked now, so that nobody approves what
// cannot run.
func (s *Service) Propose(ctx context.Context, by Principal, kind selo.ProposalKind, params json.RawMessage, reason string) (*selo.Proposal, error) {
	object := "proposal/" + truncate(string(kind), 64)
	if err := s.requireAdmin(ctx, by, "proposal.create", object); err != nil {
		return nil, err
	}
	p, err := s.propose(ctx, by, kind, params, reason)
	if err != nil {
		s.auditFailure(ctx, by.Actor, "proposal.create", object, err, nil)
		return nil, err
	}
	return p, nil
}

func (s *Service) propose(ctx context.Context, by Principal, kind selo.ProposalKind, params json.RawMessage, reason string) (*selo.Proposal, error) {
	exec, ok := s.executors[kind]
	if !ok {
		return nil, selo.Errorf(selo.EINVALID, "unknown proposal kind %q", truncate(string(kind), 64))
	}
	if len(params) > maxProposalParams {
		return nil, selo.Errorf(selo.ETOOLARGE, "proposal parameters are larger than %d bytes", maxProposalParams)
	}
	if len(reason) > maxProposalReason {
		return nil, selo.Errorf(selo.EINVALID, "a reason has at most %d bytes", maxProposalReason)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, params); err != nil || len(params) == 0 || params[0] != '{' {
		return nil, selo.Errorf(selo.EINVALID, "proposal parameters must be a JSON object")
	}
	if err := exec.Check(ctx, compact.Bytes()); err != nil {
		return nil, err
	}
	id, err := newID()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	p := &selo.Proposal{ID: id, Kind: kind, Params: compact.String(), Reason: reason, ProposedBy: by.Actor,
		ProposedAt: now, ExpiresAt: now.Add(s.ttl)}
	entry := s.audit(by.Actor, "proposal.create", "proposal/"+id, selo.OutcomeSuccess,
		map[string]any{"kind": kind, "params": json.RawMessage(p.Params), "reason": reason, "expires_at": p.ExpiresAt})
	if err := s.store.CreateProposal(ctx, p, entry); err != nil {
		return nil, err
	}
	return p, nil
}

// Approve approves a pending proposal. by needs the admin role and must not
// be its proposer (EFORBIDDEN); an expired or already decided proposal is
// ECONFLICT. Refusals are audited.
func (s *Service) Approve(ctx context.Context, by Principal, id, comment string) (*selo.Proposal, error) {
	return s.decide(ctx, by, id, selo.ProposalApproved, comment)
}

// Reject rejects a pending proposal; its proposer may withdraw it so.
func (s *Service) Reject(ctx context.Context, by Principal, id, comment string) (*selo.Proposal, error) {
	return s.decide(ctx, by, id, selo.ProposalRejected, comment)
}

func (s *Service) decide(ctx context.Context, by Principal, id string, to selo.ProposalStatus, comment string) (*selo.Proposal, error) {
	action := "proposal.approve"
	if to == selo.ProposalRejected {
		action = "proposal.reject"
	}
	object := "proposal/" + truncate(id, 64)
	if err := s.requireAdmin(ctx, by, action, object); err != nil {
		return nil, err
	}
	if len(comment) > maxProposalReason {
		err := selo.Errorf(selo.EINVALID, "a comment has at most %d bytes", maxProposalReason)
		s.auditFailure(ctx, by.Actor, action, object, err, nil)
		return nil, err
	}
	now := s.clock.Now()
	p, err := s.store.DecideProposal(ctx, id, to, by.Actor, comment, now,
		s.audit(by.Actor, action, object, selo.OutcomeSuccess, map[string]string{"comment": comment}))
	if err != nil {
		s.auditFailure(ctx, by.Actor, action, object, err, nil)
		return nil, err
	}
	return p, nil
}

// Execute runs an approved, unexpired proposal, once: the store claims it
// before it runs, so a replay or a race gets ECONFLICT. by needs the admin
// role (the proposer or the approver usually). The outcome is recorded in
// the proposal (executed or failed) and the audit log; a failed proposal is
// not retried: propose again.
func (s *Service) Execute(ctx context.Context, by Principal, id string) (*selo.Proposal, error) {
	object := "proposal/" + truncate(id, 64)
	if err := s.requireAdmin(ctx, by, "proposal.execute", object); err != nil {
		return nil, err
	}
	p, err := s.store.ClaimProposal(ctx, id, by.Actor, s.clock.Now(), s.audit(by.Actor, "proposal.execute", object, selo.OutcomeSuccess, nil))
	if err != nil {
		s.auditFailure(ctx, by.Actor, "proposal.execute", object, err, nil)
		return nil, err
	}
	// Claimed, it must finish and be recorded even when the caller goes
	// away (a client that disconnects mid-request).
	ctx = context.WithoutCancel(ctx)
	exec, ok := s.executors[p.Kind]
	var result any
	var runErr error = selo.Errorf(selo.EINVALID, "no executor for proposal kind %q here", p.Kind)
	if ok {
		// The actor names both admins, so the operation's own audit entry
		// (ca.create, ...) shows who proposed and who approved.
		result, runErr = exec.Execute(ctx, proposalActor(p), json.RawMessage(p.Params))
	}
	status, outcome := selo.ProposalExecuted, selo.OutcomeSuccess
	var out []byte
	if runErr != nil {
		status, outcome = selo.ProposalFailed, selo.OutcomeFailure
		out, _ = json.Marshal(map[string]string{"code": selo.ErrorCode(runErr), "error": selo.ErrorMessage(runErr)})
		s.log.Warn("proposal failed", "id", p.ID, "kind", p.Kind, "err", runErr)
	} else if out, err = json.Marshal(result); err != nil || result == nil {
		out = []byte("{}")
	}
	if err := s.store.FinishProposal(ctx, p.ID, status, string(out),
		s.audit(by.Actor, "proposal."+string(status), object, outcome, json.RawMessage(out))); err != nil {
		return nil, err
	}
	p.Status, p.Result = status, string(out)
	if runErr != nil {
		return p, runErr
	}
	return p, nil
}

// proposalActor is the actor of an operation run by a proposal.
func proposalActor(p *selo.Proposal) string {
	return p.ExecutedBy + " (proposal " + p.ID + " by " + p.ProposedBy + ", approved by " + p.DecidedBy + ")"
}

// FindProposal returns a proposal.
func (s *Service) FindProposal(ctx context.Context, id string) (*selo.Proposal, error) {
	return s.store.FindProposal(ctx, id, s.clock.Now())
}

// ListProposals returns up to limit proposals, newest first; status ""
// lists all.
func (s *Service) ListProposals(ctx context.Context, status selo.ProposalStatus, limit int) ([]*selo.Proposal, error) {
	if limit <= 0 || limit > MaxListProposals {
		limit = MaxListProposals
	}
	return s.store.ListProposals(ctx, status, s.clock.Now(), limit)
}
