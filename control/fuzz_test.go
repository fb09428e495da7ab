package control_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/control"
)

// FuzzPropose feeds proposal parameters from the API to every kind: each is
// refused with an application error or stored pending, never a panic or an
// internal error, and nothing runs.
func FuzzPropose(f *testing.F) {
	for _, s := range []string{`{"ca":"x"}`, `{"id":"a","name":"A","key_type":"ecdsa-p256","validity_days":1}`,
		`{"operator":"ana"}`, `{"name":"tls-server","yaml":"name: tls-server"}`, `[]`, `{`, `{"ca":1}`, `null`} {
		f.Add("ca.create", s)
		f.Add("ca.retire", s)
		f.Add("admin.grant", s)
		f.Add("profile.set", s)
		f.Add("keystore.destroy-ca-key", s)
	}
	svc, env, _ := newService(f, map[selo.ProposalKind]control.Executor{
		selo.ProposalProfileSet: control.ProfileExecutor(f.TempDir())})
	_ = env
	ana := control.Principal{Actor: "operator:ana", Roles: []selo.Role{selo.RoleAdmin}}
	f.Fuzz(func(t *testing.T, kind, params string) {
		p, err := svc.Propose(context.Background(), ana, selo.ProposalKind(kind), json.RawMessage(params), "fuzz")
		if err != nil {
			if selo.ErrorCode(err) == selo.EINTERNAL {
				t.Fatalf("Propose(%q, %q): internal error %v", kind, params, err)
			}
			return
		}
		if p.Status != selo.ProposalPending {
			t.Fatalf("new proposal is %s", p.Status)
		}
	})
}
