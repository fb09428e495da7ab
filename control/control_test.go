package control_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/control"
	"github.com/selo-qtsp/selo/internal/testenv"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/signing"
	"github.com/selo-qtsp/selo/store/storetest"
)

// cheap keeps argon2id fast in tests; the cost parameters are recorded in
// each hash, so this changes nothing else.
var cheap = signing.PasswordParams{Memory: 64, Time: 1, Threads: 1}

func newService(t testing.TB, executors map[selo.ProposalKind]control.Executor) (*control.Service, *testenv.Env, *storetest.Clock) {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	env := testenv.NewWithOptions(t, testenv.Options{Clock: clock})
	svc, err := control.New(control.Config{Store: env.Store, Authority: env.Authority, Clock: clock,
		Logger: slog.New(slog.DiscardHandler), PasswordParams: cheap, Executors: executors})
	if err != nil {
		t.Fatal(err)
	}
	return svc, env, clock
}

var root = control.Principal{Actor: "cli:root", Roles: selo.Roles}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if selo.ErrorCode(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func auditCount(t *testing.T, env *testenv.Env, action, outcome string) int {
	t.Helper()
	entries, err := env.Store.ListAudit(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == action && e.Outcome == outcome {
			n++
		}
	}
	return n
}

func TestOperatorLogin(t *testing.T) {
	svc, env, _ := newService(t, nil)
	ctx := context.Background()
	op, err := svc.CreateOperator(ctx, root, "ana", "correct horse battery", []selo.Role{selo.RoleOfficer, selo.RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(op.PasswordHash, "$argon2id$") || strings.Contains(op.PasswordHash, "correct horse") {
		t.Fatalf("password stored as %q, want an argon2id hash", op.PasswordHash)
	}
	got, err := svc.AuthenticateOperator(ctx, "ana", "correct horse battery")
	if err != nil || got.Username != "ana" || !selo.HasRole(got.Roles, selo.RoleOfficer) {
		t.Fatalf("login: %+v, %v", got, err)
	}
	for _, tc := range []struct{ user, password string }{
		{"ana", "wrong horse battery"}, {"nobody", "correct horse battery"}, {"ana", ""},
	} {
		_, err := svc.AuthenticateOperator(ctx, tc.user, tc.password)
		wantCode(t, err, selo.EUNAUTHORIZED)
		if selo.ErrorMessage(err) != "wrong user name or password" {
			t.Fatalf("refusal %q tells why", selo.ErrorMessage(err))
		}
	}
	if err := svc.SetOperatorDisabled(ctx, root, "ana", true); err != nil {
		t.Fatal(err)
	}
	_, err = svc.AuthenticateOperator(ctx, "ana", "correct horse battery")
	wantCode(t, err, selo.EUNAUTHORIZED)
	if n := auditCount(t, env, "operator.login", selo.OutcomeFailure); n != 4 {
		t.Fatalf("%d failed logins audited, want 4", n)
	}
	if n := auditCount(t, env, "operator.login", selo.OutcomeSuccess); n != 1 {
		t.Fatalf("%d logins audited, want 1", n)
	}

	// Limits: user names and passwords.
	for _, tc := range []struct{ user, password string }{
		{"Ana", "correct horse battery"}, {"", "correct horse battery"}, {strings.Repeat("a", 65), "correct horse battery"},
		{"bea", "short"}, {"bea", strings.Repeat("p", 1025)},
	} {
		_, err := svc.CreateOperator(ctx, root, tc.user, tc.password, []selo.Role{selo.RoleOfficer})
		wantCode(t, err, selo.EINVALID)
	}
	_, err = svc.CreateOperator(ctx, root, "bea", "correct horse battery", nil)
	wantCode(t, err, selo.EINVALID)
	_, err = svc.CreateOperator(ctx, root, "bea", "correct horse battery", []selo.Role{"superuser"})
	wantCode(t, err, selo.EINVALID)
	// Only an admin makes operators.
	officer := control.Principal{Actor: "operator:olga", Roles: []selo.Role{selo.RoleOfficer}}
	_, err = svc.CreateOperator(ctx, officer, "bea", "correct horse battery", []selo.Role{selo.RoleAdmin})
	wantCode(t, err, selo.EFORBIDDEN)
}

// TestAdminGrant: past the first two admins, an admin can only be made by
// two: the third starts disabled and an approved admin.grant enables it.
// Without the rule ana could make "ana2" and approve her own proposals.
func TestAdminGrant(t *testing.T) {
	svc, env, _ := newService(t, nil)
	ctx := context.Background()
	// testenv's key is the first admin; ana is the second.
	ana, err := svc.CreateOperator(ctx, root, "ana", "correct horse battery", []selo.Role{selo.RoleAdmin})
	if err != nil || ana.Disabled {
		t.Fatalf("second admin: %+v, %v", ana, err)
	}
	asAna := control.OperatorPrincipal(ana)
	sock, err := svc.CreateOperator(ctx, asAna, "ana2", "correct horse battery", []selo.Role{selo.RoleAdmin})
	if err != nil || !sock.Disabled {
		t.Fatalf("third admin: %+v, %v; want created disabled", sock, err)
	}
	wantCode(t, svc.SetOperatorDisabled(ctx, asAna, "ana2", false), selo.EFORBIDDEN)
	_, err = svc.AuthenticateOperator(ctx, "ana2", "correct horse battery")
	wantCode(t, err, selo.EUNAUTHORIZED)
	_, key, err := svc.CreateAPIKey(ctx, asAna, "ana-script", []selo.Role{selo.RoleAdmin})
	if err != nil || !key.Disabled {
		t.Fatalf("admin key: %+v, %v; want created disabled", key, err)
	}

	p, err := svc.Propose(ctx, asAna, selo.ProposalAdminGrant, json.RawMessage(`{"operator":"ana2"}`), "new colleague")
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Approve(ctx, asAna, p.ID, "")
	wantCode(t, err, selo.EFORBIDDEN)
	key0 := control.Principal{Actor: "api:" + testenv.APIKeyName, Roles: []selo.Role{selo.RoleAdmin}}
	if _, err := svc.Approve(ctx, key0, p.ID, "met her"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Execute(ctx, asAna, p.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AuthenticateOperator(ctx, "ana2", "correct horse battery"); err != nil {
		t.Fatalf("granted admin cannot sign in: %v", err)
	}

	// Break glass on the CA machine: enabled at once, loudly audited.
	_, key, err = svc.CreateAPIKey(ctx, control.Principal{Actor: "cli:root", Roles: selo.Roles, BreakGlass: true}, "ceremony", []selo.Role{selo.RoleAdmin})
	if err != nil || key.Disabled {
		t.Fatalf("break-glass admin key: %+v, %v", key, err)
	}
	if n := auditCount(t, env, "dualcontrol.break_glass", selo.OutcomeSuccess); n != 1 {
		t.Fatalf("%d break-glass entries, want 1", n)
	}
}

// TestProfileProposal: profile.set writes the file the next start loads.
func TestProfileProposal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "profiles")
	svc, env, _ := newService(t, map[selo.ProposalKind]control.Executor{selo.ProposalProfileSet: control.ProfileExecutor(dir)})
	ctx := context.Background()
	yaml := string(pki.BuiltinProfileFiles()["tls-server"])
	changed := strings.Replace(yaml, "\n", "\n# changed under dual control\n", 1)
	ana := control.Principal{Actor: "operator:ana", Roles: []selo.Role{selo.RoleAdmin}}
	bea := control.Principal{Actor: "operator:bea", Roles: []selo.Role{selo.RoleAdmin}}

	params, _ := json.Marshal(control.ProfileParams{Name: "advanced-email", YAML: changed})
	_, err := svc.Propose(ctx, ana, selo.ProposalProfileSet, params, "")
	wantCode(t, err, selo.EINVALID) // the file names another profile
	params, _ = json.Marshal(control.ProfileParams{Name: "tls-server", YAML: "name: tls-server\nbogus: 1\n"})
	_, err = svc.Propose(ctx, ana, selo.ProposalProfileSet, params, "")
	wantCode(t, err, selo.EINVALID)

	params, _ = json.Marshal(control.ProfileParams{Name: "tls-server", YAML: changed})
	p, err := svc.Propose(ctx, ana, selo.ProposalProfileSet, params, "CA/B ballot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "tls-server.yaml")); !os.IsNotExist(err) {
		t.Fatal("the profile was written before approval")
	}
	if _, err := svc.Approve(ctx, bea, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Execute(ctx, bea, p.ID); err != nil {
		t.Fatal(err)
	}
	loaded, err := pki.LoadProfiles(dir)
	if err != nil || loaded["tls-server"] == nil {
		t.Fatalf("load written profile: %v", err)
	}
	_ = env
}

// TestDestroyCAKey: a CA's key is destroyed only when the CA is retired and
// its certificate expired, and only by two admins.
func TestDestroyCAKey(t *testing.T) {
	svc, env, clock := newService(t, nil)
	ctx := context.Background()
	ana := control.Principal{Actor: "operator:ana", Roles: []selo.Role{selo.RoleAdmin}}
	bea := control.Principal{Actor: "operator:bea", Roles: []selo.Role{selo.RoleAdmin}}
	ca, err := env.Authority.CreateCA(ctx, "test", authority.CreateCAOptions{ID: "short-lived", Name: "Short Lived CA",
		ParentID: env.Root.ID, KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 1})
	if err != nil {
		t.Fatal(err)
	}
	params := json.RawMessage(`{"ca":"short-lived"}`)
	_, err = svc.Propose(ctx, ana, selo.ProposalKeyDestroy, params, "")
	wantCode(t, err, selo.ECONFLICT) // active
	if _, err := env.Authority.RetireCA(ctx, "test", ca.ID); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Propose(ctx, ana, selo.ProposalKeyDestroy, params, "")
	wantCode(t, err, selo.ECONFLICT) // its certificate is still valid
	clock.Add(49 * time.Hour)
	p, err := svc.Propose(ctx, ana, selo.ProposalKeyDestroy, params, "end of life")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Keys.Signer(ctx, ca.KeyID); err != nil {
		t.Fatalf("key gone before approval: %v", err)
	}
	if _, err := svc.Approve(ctx, bea, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Execute(ctx, ana, p.ID); err != nil {
		t.Fatal(err)
	}
	_, err = env.Keys.Signer(ctx, ca.KeyID)
	wantCode(t, err, selo.ENOTFOUND)
	if n := auditCount(t, env, "key.destroy", selo.OutcomeSuccess); n != 1 {
		t.Fatalf("%d key.destroy entries, want 1", n)
	}
}

// TestFailedProposalIsSpent: an execution that fails is recorded failed and
// cannot be run again.
func TestFailedProposalIsSpent(t *testing.T) {
	svc, env, _ := newService(t, nil)
	ctx := context.Background()
	ana := control.Principal{Actor: "operator:ana", Roles: []selo.Role{selo.RoleAdmin}}
	bea := control.Principal{Actor: "operator:bea", Roles: []selo.Role{selo.RoleAdmin}}
	p, err := svc.Propose(ctx, ana, selo.ProposalCACreate,
		json.RawMessage(`{"id":"twice","name":"Twice","parent":"`+env.Root.ID+`","key_type":"ecdsa-p256","validity_days":30}`), "")
	if err != nil {
		t.Fatal(err)
	}
	// The CA appears by another way between approval and execution.
	if _, err := env.Authority.CreateCA(ctx, "test", authority.CreateCAOptions{ID: "twice", Name: "Twice", ParentID: env.Root.ID,
		KeyAlgorithm: selo.KeyECDSAP256, ValidityDays: 30}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, bea, p.ID, ""); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Execute(ctx, ana, p.ID)
	wantCode(t, err, selo.ECONFLICT)
	if got == nil || got.Status != selo.ProposalFailed || !strings.Contains(got.Result, "already exists") {
		t.Fatalf("failed proposal %+v", got)
	}
	_, err = svc.Execute(ctx, ana, p.ID)
	wantCode(t, err, selo.ECONFLICT)
	if n := auditCount(t, env, "proposal.failed", selo.OutcomeFailure); n != 1 {
		t.Fatalf("%d proposal.failed entries, want 1", n)
	}
}
