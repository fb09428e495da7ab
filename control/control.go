// Package control is Selo's access control for people and programs that
// run the service: operator accounts (the back office signs them in), the
// roles of operators and API keys, and dual control: CA creation and
// retirement, profile changes, key-store operations and new admins need one
// admin to propose and a different admin to approve, and an approved
// proposal runs once (ETSI EN 319 411-1 asks for multi-person control of
// CA keys; EN 319 401 7.2 for separated roles). Every decision, refusals
// included, goes into the hash-chained audit log.
package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/signing"
)

// DefaultProposalTTL is how long a proposal may wait for its approval and
// then its execution: a working day and the night after, long enough for
// a second admin to be reached, short enough that an old approval is not
// used for a situation it was not given for.
const DefaultProposalTTL = 24 * time.Hour

// Config wires a Service. Store and Authority are required.
type Config struct {
	Store     selo.Store
	Authority *authority.Authority
	// Clock defaults to the system clock.
	Clock selo.Clock
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// ProposalTTL is DefaultProposalTTL when zero.
	ProposalTTL time.Duration
	// PasswordParams are argon2id's costs for operator passwords
	// (signing.DefaultPasswordParams when zero).
	PasswordParams signing.PasswordParams
	// Executors add or replace what runs each kind of proposal; the
	// profile.set executor needs the data directory, so cmd/selo gives it
	// (ProfileExecutor). A kind without an executor cannot be proposed.
	Executors map[selo.ProposalKind]Executor
	// LoginLimit bounds wrong back-office sign-ins per client address and
	// per user name (SignInOperator); selo.DefaultLoginLimit when nil.
	LoginLimit *selo.LoginLimit
}

// Executor runs one kind of proposal.
type Executor interface {
	// Check validates the parameters before the proposal is stored, so a
	// second admin never approves something that cannot run.
	Check(ctx context.Context, params json.RawMessage) error
	// Execute runs the operation as actor (the admin who executes, noted
	// with the proposal) and returns what it made, marshalled to JSON into
	// the proposal's result.
	Execute(ctx context.Context, actor string, params json.RawMessage) (any, error)
}

// Principal is who asks: the actor the audit log names ("api:<key>",
// "operator:<user>", "cli:<user>") and their roles. BreakGlass is set only
// by the local CLI on the CA machine when its operator asks for it: the
// dual-control checks are skipped and a dualcontrol.break_glass entry is
// written first.
type Principal struct {
	Actor      string
	Roles      []selo.Role
	BreakGlass bool
}

// Service manages operators and proposals. It is safe for concurrent use.
type Service struct {
	store     selo.Store
	authority *authority.Authority
	clock     selo.Clock
	log       *slog.Logger
	ttl       time.Duration
	params    signing.PasswordParams
	executors map[selo.ProposalKind]Executor
	login     selo.LoginLimit
	// dummyHash is verified against when a user name is unknown, so a
	// login takes the same time whether or not the account exists.
	dummyHash string
}

// New returns a Service over cfg.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Authority == nil {
		return nil, selo.Errorf(selo.EINVALID, "control: store and authority are required")
	}
	s := &Service{store: cfg.Store, authority: cfg.Authority, clock: cfg.Clock, log: cfg.Logger,
		ttl: cfg.ProposalTTL, params: cfg.PasswordParams}
	if s.clock == nil {
		s.clock = selo.SystemClock{}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.ttl <= 0 {
		s.ttl = DefaultProposalTTL
	}
	if s.params == (signing.PasswordParams{}) {
		s.params = signing.DefaultPasswordParams
	}
	s.login = selo.DefaultLoginLimit
	if cfg.LoginLimit != nil {
		s.login = *cfg.LoginLimit
	}
	s.executors = builtinExecutors(s)
	for k, e := range cfg.Executors {
		s.executors[k] = e
	}
	var err error
	if s.dummyHash, err = signing.HashPassword("no such operator", s.params); err != nil {
		return nil, err
	}
	return s, nil
}

// ProposalTTL is how long a proposal waits for approval and execution.
func (s *Service) ProposalTTL() time.Duration { return s.ttl }

// audit builds an audit entry; details is marshalled to JSON.
func (s *Service) audit(actor, action, object, outcome string, details any) *selo.AuditEntry {
	d := "{}"
	if details != nil {
		if b, err := json.Marshal(details); err == nil {
			d = string(b)
		}
	}
	return &selo.AuditEntry{Time: s.clock.Now(), Actor: actor, Action: action, Object: object, Outcome: outcome, Details: d}
}

// auditFailure records a refusal. A failure to write it is logged: the
// caller's error is what the user must see.
func (s *Service) auditFailure(ctx context.Context, actor, action, object string, cause error, extra map[string]string) {
	details := map[string]string{"code": selo.ErrorCode(cause), "error": selo.ErrorMessage(cause)}
	for k, v := range extra {
		details[k] = v
	}
	if err := s.store.AppendAudit(ctx, s.audit(actor, action, object, selo.OutcomeFailure, details)); err != nil {
		s.log.Error("append audit entry", "action", action, "object", object, "err", err)
	}
}

// requireAdmin refuses a principal without the admin role, audited.
func (s *Service) requireAdmin(ctx context.Context, by Principal, action, object string) error {
	if selo.HasRole(by.Roles, selo.RoleAdmin) {
		return nil
	}
	err := selo.Errorf(selo.EFORBIDDEN, "this needs the admin role")
	s.auditFailure(ctx, by.Actor, action, object, err, nil)
	return err
}

// breakGlass records that by skipped dual control for action on object.
func (s *Service) breakGlass(ctx context.Context, by Principal, action, object string, details any) error {
	return s.store.AppendAudit(ctx, s.audit(by.Actor, "dualcontrol.break_glass", object, selo.OutcomeSuccess,
		map[string]any{"action": action, "details": details}))
}

// BreakGlass records, before a local CLI operation that dual control
// covers runs without an approved proposal, that by did so: the audit
// entry auditors look for (dualcontrol.break_glass).
func (s *Service) BreakGlass(ctx context.Context, by Principal, action, object string, details any) error {
	return s.breakGlass(ctx, by, action, object, details)
}

func newID() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
