package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

var operatorTests = []struct {
	name string
	fn   func(*testing.T, OpenFunc)
}{
	{"Operator", testOperator},
	{"APIKeyAdmin", testAPIKeyAdmin},
	{"Proposal", testProposal},
	{"ProposalExpiry", testProposalExpiry},
	{"ConcurrentProposalClaim", testConcurrentProposalClaim},
	{"ProposalSelfApprovalInDatabase", testProposalSelfApprovalInDatabase},
	{"APIKeyFromBeforeRoles", testAPIKeyFromBeforeRoles},
}

// testAPIKeyFromBeforeRoles takes a database back to before migration 011
// (no roles column, no operator or proposal tables, 011 not recorded) with
// a key in it, and reopens it: the key comes back as admin and officer,
// what every key could do before roles.
func testAPIKeyFromBeforeRoles(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	must(t, b.Store.CreateAPIKey(ctx, &selo.APIKey{ID: "k1", Name: "old", Hash: "aa11", Roles: []selo.Role{selo.RoleAuditor}},
		entry("apikey.create", "apikey/k1")))
	b.Exec(t, `ALTER TABLE api_keys DROP COLUMN roles`)
	b.Exec(t, `DROP TABLE proposals`)
	b.Exec(t, `DROP TABLE operators`)
	b.Exec(t, `DELETE FROM schema_migrations WHERE version = 11`)

	st := b.Reopen(t)
	got, err := st.FindAPIKeyByHash(ctx, "aa11")
	must(t, err)
	if !reflect.DeepEqual(got.Roles, []selo.Role{selo.RoleAdmin, selo.RoleOfficer}) {
		t.Fatalf("a key from before roles has %v after migration 011, want admin and officer", got.Roles)
	}
	n, err := st.CountAdmins(ctx)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountAdmins = %d after migration, want 1", n)
	}
}

func testOperator(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store

	ana := &selo.Operator{ID: "o1", Username: "ana", PasswordHash: "$argon2id$x", Roles: []selo.Role{selo.RoleAdmin, selo.RoleAuditor}}
	must(t, st.CreateOperator(ctx, ana, entry("operator.create", "operator/ana")))
	if !ana.CreatedAt.Equal(micro(start)) {
		t.Fatalf("CreatedAt %v, want %v", ana.CreatedAt, micro(start))
	}
	got, err := st.FindOperator(ctx, "ana")
	must(t, err)
	if !reflect.DeepEqual(got, ana) {
		t.Fatalf("FindOperator = %+v, want %+v", got, ana)
	}
	_, err = st.FindOperator(ctx, "nobody")
	wantCode(t, err, selo.ENOTFOUND)

	for name, op := range map[string]*selo.Operator{
		"same ID":       {ID: "o1", Username: "bea", PasswordHash: "h", Roles: []selo.Role{selo.RoleOfficer}},
		"same username": {ID: "o2", Username: "ana", PasswordHash: "h", Roles: []selo.Role{selo.RoleOfficer}},
	} {
		if err := st.CreateOperator(ctx, op, entry("operator.create", "operator/"+op.Username)); selo.ErrorCode(err) != selo.ECONFLICT {
			t.Fatalf("%s: error %v, want conflict", name, err)
		}
	}
	for name, op := range map[string]*selo.Operator{
		"no roles":     {ID: "o3", Username: "cid", PasswordHash: "h"},
		"unknown role": {ID: "o3", Username: "cid", PasswordHash: "h", Roles: []selo.Role{"root"}},
		"no password":  {ID: "o3", Username: "cid", Roles: []selo.Role{selo.RoleOfficer}},
	} {
		if err := st.CreateOperator(ctx, op, entry("operator.create", "operator/cid")); selo.ErrorCode(err) != selo.EINVALID {
			t.Fatalf("%s: error %v, want invalid", name, err)
		}
	}
	wantCode(t, st.CreateOperator(ctx, &selo.Operator{ID: "o4", Username: "dan", PasswordHash: "h", Roles: []selo.Role{selo.RoleOfficer}}, nil), selo.EINVALID)

	bea := &selo.Operator{ID: "o2", Username: "bea", PasswordHash: "h2", Roles: []selo.Role{selo.RoleOfficer}}
	must(t, st.CreateOperator(ctx, bea, entry("operator.create", "operator/bea")))
	n, err := st.CountAdmins(ctx)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountAdmins = %d, want 1 (ana)", n)
	}
	list, err := st.ListOperators(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Username != "ana" || list[1].Username != "bea" {
		t.Fatalf("ListOperators = %+v", list)
	}

	must(t, st.SetOperatorDisabled(ctx, "ana", true, entry("operator.disable", "operator/ana")))
	got, err = st.FindOperator(ctx, "ana")
	must(t, err)
	if !got.Disabled {
		t.Fatal("ana is not disabled")
	}
	n, err = st.CountAdmins(ctx)
	must(t, err)
	if n != 0 {
		t.Fatalf("CountAdmins = %d after disabling the only admin, want 0", n)
	}
	wantCode(t, st.SetOperatorDisabled(ctx, "nobody", true, entry("operator.disable", "operator/nobody")), selo.ENOTFOUND)
	wantIntactAudit(t, st, 3)
}

func testAPIKeyAdmin(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	must(t, st.CreateAPIKey(ctx, &selo.APIKey{ID: "k1", Name: "ops", Hash: "h1", Roles: []selo.Role{selo.RoleAdmin}}, entry("apikey.create", "apikey/k1")))
	must(t, st.CreateAPIKey(ctx, &selo.APIKey{ID: "k2", Name: "desk", Hash: "h2", Roles: []selo.Role{selo.RoleOfficer}}, entry("apikey.create", "apikey/k2")))
	keys, err := st.ListAPIKeys(ctx)
	must(t, err)
	if len(keys) != 2 || keys[0].Name != "desk" || keys[1].Name != "ops" || !reflect.DeepEqual(keys[1].Roles, []selo.Role{selo.RoleAdmin}) {
		t.Fatalf("ListAPIKeys = %+v", keys)
	}
	n, err := st.CountAdmins(ctx)
	must(t, err)
	if n != 1 {
		t.Fatalf("CountAdmins = %d, want 1", n)
	}
	must(t, st.SetAPIKeyDisabled(ctx, "ops", true, entry("apikey.disable", "apikey/k1")))
	_, err = st.FindAPIKeyByHash(ctx, "h1")
	wantCode(t, err, selo.ENOTFOUND)
	must(t, st.SetAPIKeyDisabled(ctx, "ops", false, entry("apikey.enable", "apikey/k1")))
	_, err = st.FindAPIKeyByHash(ctx, "h1")
	must(t, err)
	wantCode(t, st.SetAPIKeyDisabled(ctx, "nope", true, entry("apikey.disable", "apikey/nope")), selo.ENOTFOUND)
	wantIntactAudit(t, st, 4)
}

func newProposal(id, by string, expires time.Time) *selo.Proposal {
	return &selo.Proposal{ID: id, Kind: selo.ProposalCARetire, Params: `{"ca":"x"}`, Reason: "end of life", ProposedBy: by, ExpiresAt: expires}
}

func testProposal(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	expires := start.Add(24 * time.Hour)

	p := newProposal("p1", "operator:ana", expires)
	must(t, st.CreateProposal(ctx, p, entry("proposal.create", "proposal/p1")))
	wantCode(t, st.CreateProposal(ctx, newProposal("p1", "operator:ana", expires), entry("proposal.create", "proposal/p1")), selo.ECONFLICT)
	wantCode(t, st.CreateProposal(ctx, newProposal("p9", "operator:ana", time.Time{}), entry("proposal.create", "proposal/p9")), selo.EINVALID)
	got, err := st.FindProposal(ctx, "p1", start)
	must(t, err)
	if got.Status != selo.ProposalPending || got.ProposedBy != "operator:ana" || !got.ProposedAt.Equal(micro(start)) ||
		!got.ExpiresAt.Equal(micro(expires)) || got.Params != p.Params || got.Kind != selo.ProposalCARetire {
		t.Fatalf("FindProposal = %+v", got)
	}

	// The proposer cannot approve, nor start it before approval.
	_, err = st.DecideProposal(ctx, "p1", selo.ProposalApproved, "operator:ana", "", start, entry("proposal.approve", "proposal/p1"))
	wantCode(t, err, selo.EFORBIDDEN)
	_, err = st.ClaimProposal(ctx, "p1", "operator:ana", start, entry("proposal.execute", "proposal/p1"))
	wantCode(t, err, selo.ECONFLICT)
	_, err = st.DecideProposal(ctx, "nope", selo.ProposalApproved, "operator:bea", "", start, entry("proposal.approve", "proposal/nope"))
	wantCode(t, err, selo.ENOTFOUND)

	got, err = st.DecideProposal(ctx, "p1", selo.ProposalApproved, "operator:bea", "checked", start.Add(time.Minute), entry("proposal.approve", "proposal/p1"))
	must(t, err)
	if got.Status != selo.ProposalApproved || got.DecidedBy != "operator:bea" || got.Comment != "checked" || !got.DecidedAt.Equal(micro(start.Add(time.Minute))) {
		t.Fatalf("approved proposal = %+v", got)
	}
	// Decided once.
	_, err = st.DecideProposal(ctx, "p1", selo.ProposalRejected, "operator:cid", "", start.Add(time.Minute), entry("proposal.reject", "proposal/p1"))
	wantCode(t, err, selo.ECONFLICT)

	got, err = st.ClaimProposal(ctx, "p1", "operator:bea", start.Add(2*time.Minute), entry("proposal.execute", "proposal/p1"))
	must(t, err)
	if got.Status != selo.ProposalExecuting || got.ExecutedBy != "operator:bea" {
		t.Fatalf("claimed proposal = %+v", got)
	}
	_, err = st.ClaimProposal(ctx, "p1", "operator:bea", start.Add(2*time.Minute), entry("proposal.execute", "proposal/p1"))
	wantCode(t, err, selo.ECONFLICT)
	must(t, st.FinishProposal(ctx, "p1", selo.ProposalExecuted, `{"ok":true}`, entry("proposal.executed", "proposal/p1")))
	wantCode(t, st.FinishProposal(ctx, "p1", selo.ProposalFailed, `{}`, entry("proposal.failed", "proposal/p1")), selo.ECONFLICT)
	_, err = st.ClaimProposal(ctx, "p1", "operator:cid", start.Add(3*time.Minute), entry("proposal.execute", "proposal/p1"))
	wantCode(t, err, selo.ECONFLICT)
	got, err = st.FindProposal(ctx, "p1", start.Add(48*time.Hour))
	must(t, err)
	if got.Status != selo.ProposalExecuted || got.Result != `{"ok":true}` {
		t.Fatalf("executed proposal = %+v (an executed proposal never shows as expired)", got)
	}

	// Rejected by anyone, the proposer included; then it cannot run.
	must(t, st.CreateProposal(ctx, newProposal("p2", "operator:ana", expires), entry("proposal.create", "proposal/p2")))
	_, err = st.DecideProposal(ctx, "p2", selo.ProposalRejected, "operator:ana", "withdrawn", start, entry("proposal.reject", "proposal/p2"))
	must(t, err)
	_, err = st.ClaimProposal(ctx, "p2", "operator:bea", start, entry("proposal.execute", "proposal/p2"))
	wantCode(t, err, selo.ECONFLICT)

	list, err := st.ListProposals(ctx, "", start, 10)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListProposals all = %d, want 2", len(list))
	}
	list, err = st.ListProposals(ctx, selo.ProposalRejected, start, 10)
	must(t, err)
	if len(list) != 1 || list[0].ID != "p2" {
		t.Fatalf("ListProposals rejected = %+v", list)
	}
	_, err = st.ListProposals(ctx, "bogus", start, 10)
	wantCode(t, err, selo.EINVALID)
	// 2 creates, 1 approve, 1 claim, 1 finish, 1 reject: failures wrote nothing.
	wantIntactAudit(t, st, 6)
}

func testProposalExpiry(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	expires := start.Add(time.Hour)
	must(t, st.CreateProposal(ctx, newProposal("p1", "api:ana", expires), entry("proposal.create", "proposal/p1")))
	must(t, st.CreateProposal(ctx, newProposal("p2", "api:ana", expires), entry("proposal.create", "proposal/p2")))
	_, err := st.DecideProposal(ctx, "p2", selo.ProposalApproved, "api:bea", "", start, entry("proposal.approve", "proposal/p2"))
	must(t, err)

	late := expires // the window is half-open: at ExpiresAt it is over
	_, err = st.DecideProposal(ctx, "p1", selo.ProposalApproved, "api:bea", "", late, entry("proposal.approve", "proposal/p1"))
	wantCode(t, err, selo.ECONFLICT)
	_, err = st.ClaimProposal(ctx, "p2", "api:bea", late, entry("proposal.execute", "proposal/p2"))
	wantCode(t, err, selo.ECONFLICT)
	for _, id := range []string{"p1", "p2"} {
		p, err := st.FindProposal(ctx, id, late)
		must(t, err)
		if p.Status != selo.ProposalExpired {
			t.Fatalf("%s status %s at expiry, want expired", id, p.Status)
		}
	}
	list, err := st.ListProposals(ctx, selo.ProposalExpired, late, 10)
	must(t, err)
	if len(list) != 2 {
		t.Fatalf("ListProposals expired = %d, want 2", len(list))
	}
	list, err = st.ListProposals(ctx, selo.ProposalPending, start, 10)
	must(t, err)
	if len(list) != 1 || list[0].ID != "p1" {
		t.Fatalf("ListProposals pending before expiry = %+v", list)
	}
	wantIntactAudit(t, st, 3)
}

// testConcurrentProposalClaim races executions of one approved proposal:
// exactly one claims it.
func testConcurrentProposalClaim(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	must(t, st.CreateProposal(ctx, newProposal("p1", "api:ana", start.Add(time.Hour)), entry("proposal.create", "proposal/p1")))
	_, err := st.DecideProposal(ctx, "p1", selo.ProposalApproved, "api:bea", "", start, entry("proposal.approve", "proposal/p1"))
	must(t, err)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = st.ClaimProposal(ctx, "p1", "api:bea", start, entry("proposal.execute", "proposal/p1"))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch selo.ErrorCode(err) {
		case "":
			won++
		case selo.ECONFLICT:
		default:
			t.Fatalf("claim: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d claims won, want exactly 1", won)
	}
	wantIntactAudit(t, st, 3)
}

// testProposalSelfApprovalInDatabase writes a self-approval past the
// store, as an attacker with database access would: the table refuses it.
func testProposalSelfApprovalInDatabase(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	must(t, b.Store.CreateProposal(ctx, newProposal("p1", "api:ana", start.Add(time.Hour)), entry("proposal.create", "proposal/p1")))
	refused := func() (refused bool) {
		defer func() { refused = recover() != nil }()
		b.Exec(&fatalCatcher{TB: t}, `UPDATE proposals SET status = 'approved', decided_by = proposed_by WHERE id = $1`, "p1")
		return false
	}()
	if !refused {
		t.Fatal("the database accepted a proposal approved by its proposer")
	}
}

// fatalCatcher turns Exec's test failure into a value: the suite expects
// the statement to fail.
type fatalCatcher struct {
	testing.TB
	failed bool
}

func (f *fatalCatcher) Fatalf(format string, args ...any) { f.failed = true; panic("refused") }
func (f *fatalCatcher) Fatal(args ...any)                 { f.failed = true; panic("refused") }
func (f *fatalCatcher) Errorf(format string, args ...any) { f.failed = true }
func (f *fatalCatcher) Helper()                           {}
