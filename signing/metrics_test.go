package signing_test

import (
	"net/http/httptest"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/metrics/prom"
	"github.com/selo-qtsp/selo/signing"
)

// TestMetricsCountSigning runs real authorizations and signHash calls with
// the Prometheus sink of 'selo serve --metrics-listen' and reads its
// exposition back with the Prometheus text parser: approvals by method and
// outcome, wrong codes, the lockout, batches and signatures.
func TestMetricsCountSigning(t *testing.T) {
	m := prom.New(prom.State{})
	f := newFixture(t)
	f.svc = f.env.SigningService(t, func(c *signing.Config) { c.SMS = f.sms.Outbox; c.Metrics = m })
	a := f.holder(t, "ana@example.pt", "+351912345678")
	c := f.credential(t, a, "qualified-sign", selo.ApprovalSMS, selo.KeyECDSAP256)
	hashes := digests(5, "metrics")
	sad := sadFor(t, f, a, c, hashes)
	sign := func() error {
		_, err := f.svc.SignHash(ctx, signing.SignHashRequest{AccountID: a.ID, CredentialID: c.Credential.ID, SAD: sad,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, SignAlgo: signing.OIDECDSAWithSHA256})
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}
	wantCode(t, sign(), selo.EUNAUTHORIZED) // the SAD is spent
	// Wrong codes until the credential locks.
	if err := f.svc.SendOTP(ctx, a.ID, c.Credential.ID); err != nil {
		t.Fatal(err)
	}
	for range signing.MaxFailures {
		_, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID,
			HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: len(hashes), OTP: "000000"})
		if err == nil {
			t.Fatal("a wrong code was accepted")
		}
	}
	_, err := f.svc.Authorize(ctx, signing.AuthorizeRequest{AccountID: a.ID, CredentialID: c.Credential.ID,
		HashAlgorithmOID: signing.OIDSHA256, Hashes: hashes, NumSignatures: len(hashes), OTP: "000000"})
	wantCode(t, err, selo.EFORBIDDEN) // locked

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	value := func(family string, labels map[string]string) float64 {
		sum := 0.0
		for _, mt := range families[family].GetMetric() {
			if hasLabels(mt, labels) {
				sum += mt.GetCounter().GetValue()
			}
		}
		return sum
	}
	for _, c := range []struct {
		family string
		labels map[string]string
		want   float64
	}{
		{"selo_signhash_batches_total", map[string]string{"outcome": "ok"}, 1},
		{"selo_signhash_batches_total", map[string]string{"outcome": "refused"}, 1},
		{"selo_signhash_signatures_total", nil, 5},
		{"selo_approvals_total", map[string]string{"method": "sms", "outcome": "approved"}, 1},
		{"selo_approvals_total", map[string]string{"method": "sms", "outcome": "wrong_code"}, float64(signing.MaxFailures)},
		{"selo_approvals_total", map[string]string{"method": "sms", "outcome": "refused"}, 1},
		{"selo_credential_lockouts_total", nil, 1},
	} {
		if got := value(c.family, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.family, c.labels, got, c.want)
		}
	}
}

func hasLabels(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
