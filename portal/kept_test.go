package portal_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
	"github.com/selo-qtsp/selo/registration"
)

// TestKeptCertificates: a certificate whose key the holder keeps (a token
// order's) is on the holder's Certificates page with its status, its chain
// downloads verify with openssl up to the root, a revocation shows there,
// and another holder neither sees it nor downloads it.
func TestKeptCertificates(t *testing.T) {
	s := newStack(t)
	ctx := context.Background()
	s.holder(t, "ana@example.pt", "Ana")
	s.holder(t, "rui@example.pt", "Rui")
	created, err := s.reg.CreateOrder(ctx, "officer:o", registration.OrderRequest{
		Holder:  selo.Holder{GivenNames: "Ana", Surname: "Silva", Email: "Ana@Example.pt", Mobile: "+351912345678"},
		Profile: "qualified-sign", Delivery: selo.DeliveryToken, Subject: selo.OrderSubject{Country: "PT"}})
	if err != nil {
		t.Fatal(err)
	}
	// The lift's last step, as the token's owner would have run it.
	cert := s.env.Issue(t, "qualified-sign", "ecdsa-p256")
	o := created.Order
	o.CertificateSerial, o.State = cert.Serial, selo.OrderDelivered
	var events []*selo.OrderEvent
	for _, to := range []selo.OrderState{selo.OrderIdentityValidated, selo.OrderPaid, selo.OrderReady, selo.OrderEmailVerified,
		selo.OrderKeyReady, selo.OrderIssued, selo.OrderDelivered} {
		events = append(events, &selo.OrderEvent{OrderID: o.ID, To: to, Actor: "test", Time: s.clock.Now()})
	}
	if err := s.env.Store.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, Events: events, Audit: &selo.AuditEntry{Time: s.clock.Now(),
		Actor: "test", Action: "order.deliver", Object: "order/" + o.ID, Outcome: selo.OutcomeSuccess}}); err != nil {
		t.Fatal(err)
	}

	ana := s.client(t)
	ana.signIn(s, "ana@example.pt", password)
	page := body(t, ana.do("GET", "/account/certificates", nil))
	link := "/account/orders/" + o.ID + "/download/"
	if !strings.Contains(page, `id="kept"`) || !strings.Contains(page, cert.Serial) || !strings.Contains(page, link+"chain.p7b") {
		t.Fatalf("the token certificate is not on its holder's page:\n%s", page)
	}

	dir := t.TempDir()
	files := map[string]string{}
	for _, f := range []string{"certificate.pem", "chain.pem", "chain.p7b"} {
		resp := ana.do("GET", link+f, nil)
		b := body(t, resp)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s%s: %d %s", link, f, resp.StatusCode, b)
		}
		files[f] = filepath.Join(dir, f)
		if err := os.WriteFile(files[f], []byte(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var chain []*x509.Certificate
	for rest, _ := os.ReadFile(files["chain.pem"]); ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, c)
	}
	if len(chain) < 2 || chain[0].SerialNumber.Text(16) != cert.Serial {
		t.Fatalf("chain.pem holds %d certificates, first %v; want the certificate then its CAs", len(chain), chain)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		root := filepath.Join(dir, "root.pem")
		if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[len(chain)-1].Raw}), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "verify", "-CAfile", root, "-untrusted", files["chain.pem"], files["certificate.pem"]).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl verify: %v\n%s", err, out)
		}
		out, err = exec.Command("openssl", "pkcs7", "-inform", "DER", "-in", files["chain.p7b"], "-print_certs", "-noout").CombinedOutput()
		if err != nil || strings.Count(string(out), "subject=") != len(chain) {
			t.Fatalf("openssl pkcs7 of chain.p7b: %v\n%s", err, out)
		}
	}

	if _, _, err := s.env.Authority.Revoke(ctx, "officer", authority.RevokeRequest{Serial: cert.Serial, Reason: selo.ReasonKeyCompromise}); err != nil {
		t.Fatal(err)
	}
	page = body(t, ana.do("GET", "/account/certificates", nil))
	if i := strings.Index(page, `id="kept"`); i < 0 || !strings.Contains(page[i:], `data-status="revoked"`) {
		t.Fatalf("the revoked token certificate does not say so:\n%s", page)
	}

	rui := s.client(t)
	rui.signIn(s, "rui@example.pt", password)
	if page := body(t, rui.do("GET", "/account/certificates", nil)); strings.Contains(page, cert.Serial) {
		t.Fatal("another holder's page lists the token certificate")
	}
	for _, f := range []string{"certificate.pem", "chain.p7b"} {
		if resp := rui.do("GET", link+f, nil); resp.StatusCode != 404 {
			t.Fatalf("another holder's GET %s%s: %d, want 404", link, f, resp.StatusCode)
		}
	}
}
