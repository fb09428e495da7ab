package pki_test

import (
	"crypto/x509/pkix"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
	"github.com/selo-qtsp/selo/pki/pkitest"
)

func TestBuiltinProfiles(t *testing.T) {
	profiles := pki.BuiltinProfiles()
	files := pki.BuiltinProfileFiles()
	want := []string{"advanced-email", "advanced-invoice", "qualified-seal", "qualified-sign", "tls-server", "tls-server-ov"}
	var names []string
	for n := range profiles {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) || len(files) != len(want) {
		t.Fatalf("built-ins %v, want %v", names, want)
	}
	for name, data := range files {
		p, err := pki.LoadProfile(data)
		if err != nil || p.Name != name {
			t.Errorf("%s: reload: %v", name, err)
		}
	}
	// Callers get copies: changing one does not change the next.
	profiles["tls-server"].ValidityDays = 1
	if pki.BuiltinProfiles()["tls-server"].ValidityDays == 1 {
		t.Error("BuiltinProfiles returns shared values")
	}
	qs := pki.BuiltinProfiles()["qualified-sign"]
	if qs.QC == nil || !qs.QC.Compliance || !qs.QC.SSCD || qs.QC.Type != "esign" || qs.QC.Semantics != "natural" || len(qs.QC.PDS) != 1 ||
		!slices.Equal(qs.Policies, []string{"0.4.0.194112.1.2"}) {
		t.Errorf("qualified-sign: %+v %+v", qs, qs.QC)
	}
}

func TestLoadProfileErrors(t *testing.T) {
	base := string(pki.BuiltinProfileFiles()["qualified-seal"])
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"bad name", "name: qualified-seal", "name: Qualified Seal", "name"},
		{"bad kind", "kind: qualified-legal", "kind: magic", "kind"},
		{"unknown field", "kind: qualified-legal", "kind: qualified-legal\ncolour: blue", "not valid yaml"},
		{"bad key type", "key_types: [ecdsa-p256, ecdsa-p384, rsa]", "key_types: [ed25519]", "key_types"},
		{"small rsa", "min_rsa_bits: 3072", "min_rsa_bits: 1024", "min_rsa_bits"},
		{"validity", "validity_days: 1095", "validity_days: 0", "validity_days"},
		{"bad key usage", "key_usage: [digitalSignature, contentCommitment]", "key_usage: [certSign]", "key_usage"},
		{"bad eku", "ext_key_usage: []", "ext_key_usage: [everything]", "ext_key_usage"},
		{"bad policy", "0.4.0.194112.1.3 # QCP-l-qscd", "not-an-oid", "policies"},
		{"no policy", "  - 0.4.0.194112.1.3 # QCP-l-qscd", "", "policies"},
		{"bad attribute", "allowed: [L, ST, OU]", "allowed: [DC]", "subject: unknown attribute"},
		{"bad san rule", "dns: forbidden", "dns: maybe", "san.dns"},
		{"http pds", "url: https://pki.example.eu/pds/pds-en.pdf", "url: http://pki.example.eu/pds/pds-en.pdf", "pds[0].url"},
		{"upper-case pds language", "language: en", "language: EN", "pds[0].language"},
		{"bad qc type", "type: eseal", "type: stamp", "qc_statements.type"},
		{"wrong semantics", "semantics: legal", "semantics: natural", "semantics"},
		{"bad approval", "approvals: [sms, authenticator, authorizer]", "approvals: [telepathy]", "approvals"},
		{"two documents", "approvals: [sms, authenticator, authorizer]", "approvals: [sms]\n---\nname: x", "single yaml document"},
		{"not yaml", "name: qualified-seal", "name: [", "not valid yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(base, tc.from) {
				t.Fatalf("fixture lacks %q", tc.from)
			}
			_, err := pki.LoadProfile([]byte(strings.Replace(base, tc.from, tc.to, 1)))
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct{ name, data, want string }{
		{"empty", "", "empty"},
		{"tls without dns", strings.Replace(string(pki.BuiltinProfileFiles()["tls-server"]), "dns: required", "dns: allowed", 1), "san.dns"},
		{"tls too long", strings.Replace(string(pki.BuiltinProfileFiles()["tls-server"]), "validity_days: 199", "validity_days: 399", 1), "validity_days"},
		{"smime without email", strings.Replace(string(pki.BuiltinProfileFiles()["advanced-email"]), "email: required", "email: allowed", 1), "san.email"},
		{"huge", strings.Repeat("#", 70000), "larger"},
	} {
		if _, err := pki.LoadProfile([]byte(tc.data)); selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
			t.Errorf("%s: got %v, want EINVALID containing %q", tc.name, err, tc.want)
		}
	}
}

func TestLoadProfiles(t *testing.T) {
	dir := t.TempDir()
	if ps, err := pki.LoadProfiles(filepath.Join(dir, "missing")); err != nil || len(ps) != 6 {
		t.Fatalf("missing dir: %d profiles, %v", len(ps), err)
	}
	custom := strings.Replace(string(pki.BuiltinProfileFiles()["tls-server"]), "validity_days: 199", "validity_days: 90", 1)
	ov := strings.Replace(string(pki.BuiltinProfileFiles()["tls-server"]), "name: tls-server", "name: tls-ov", 1)
	ov = strings.Replace(ov, "2.23.140.1.2.1 # CA/B Forum domain validated", "2.23.140.1.2.2", 1)
	for name, data := range map[string]string{"tls-server.yaml": custom, "tls-ov.yaml": ov, "notes.txt": "ignored"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := pki.LoadProfiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 7 || ps["tls-server"].ValidityDays != 90 || ps["tls-ov"] == nil {
		t.Fatalf("overlay: %d profiles, tls-server %d days", len(ps), ps["tls-server"].ValidityDays)
	}
	if err := os.WriteFile(filepath.Join(dir, "broken.yaml"), []byte("name: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = pki.LoadProfiles(dir)
	if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), "broken.yaml") {
		t.Fatalf("broken file: %v", err)
	}
}

func TestCheckRequest(t *testing.T) {
	p256 := pkitest.NewKey(t, "ecdsa-p256").Public()
	rsa2048 := testKey(t, "rsa-2048").Public()
	ed := testKey(t, "ed25519").Public()
	gn := func(v string) pkix.AttributeTypeAndValue {
		return pkix.AttributeTypeAndValue{Type: []int{2, 5, 4, 42}, Value: v}
	}
	for _, tc := range []struct {
		name, profile string
		modify        func(r *pki.Request)
		want          string
	}{
		{"ok", "qualified-sign", func(r *pki.Request) {}, ""},
		{"rsa 2048 below the qualified minimum", "qualified-sign", func(r *pki.Request) { r.PublicKey = rsa2048 }, "at least 3072 bits"},
		{"ed25519", "qualified-sign", func(r *pki.Request) { r.PublicKey = ed }, "ed25519"},
		{"missing GN", "qualified-sign", func(r *pki.Request) { r.Subject.ExtraNames = r.Subject.ExtraNames[1:] }, "subject attribute GN is required"},
		{"extra O", "qualified-sign", func(r *pki.Request) { r.Subject.Organization = []string{"X"} }, "subject attribute O is not allowed"},
		{"two GNs", "qualified-sign", func(r *pki.Request) { r.Subject.ExtraNames = append(r.Subject.ExtraNames, gn("Rita")) }, "GN appears more than once"},
		{"bad serialNumber", "qualified-sign", func(r *pki.Request) { r.Subject.SerialNumber = "12345678" }, "serialNumber"},
		{"bad country", "qualified-sign", func(r *pki.Request) { r.Subject.Country = []string{"Portugal"} }, "subject attribute C"},
		{"long CN", "qualified-sign", func(r *pki.Request) { r.Subject.CommonName = strings.Repeat("a", 65) }, "CN is longer than 64"},
		{"control character", "qualified-sign", func(r *pki.Request) { r.Subject.CommonName = "Ana\x00Silva" }, "control characters"},
		{"dns on a signing certificate", "qualified-sign", func(r *pki.Request) { r.DNSNames = []string{"example.pt"} }, "does not allow dns name"},
		{"bad email", "qualified-sign", func(r *pki.Request) { r.EmailAddresses = []string{"Ana <ana@example.pt>"} }, "email address"},
		{"bad organizationIdentifier", "qualified-seal", func(r *pki.Request) { r.Subject.ExtraNames[0].Value = "500000000" }, "organizationIdentifier"},
		{"organizationIdentifier of another country", "qualified-seal", func(r *pki.Request) { r.Subject.ExtraNames[0].Value = "VATES-B12345678" }, "does not match country"},
		{"missing organizationIdentifier", "advanced-invoice", func(r *pki.Request) { r.Subject.ExtraNames = nil }, "organizationIdentifier is required"},
		{"no email", "advanced-email", func(r *pki.Request) { r.EmailAddresses = nil }, "requires at least one email address"},
		{"CN not a SAN mailbox", "advanced-email", func(r *pki.Request) { r.Subject.CommonName = "Ana Silva" }, "subject CN"},
		{"no dns", "tls-server", func(r *pki.Request) { r.DNSNames = nil; r.Subject = pkix.Name{} }, "requires at least one dns name"},
		{"CN not a SAN", "tls-server", func(r *pki.Request) { r.Subject.CommonName = "other.example.pt" }, "subject CN"},
		{"O, L, ST, C on DV are dropped", "tls-server", func(r *pki.Request) {
			r.Subject.Organization, r.Subject.Locality, r.Subject.Province, r.Subject.Country = []string{"X"}, []string{"Lisboa"}, []string{"Lisboa"}, []string{"PT"}
		}, ""},
		{"serialNumber on DV", "tls-server", func(r *pki.Request) { r.Subject.SerialNumber = "X1" }, "subject attribute serialNumber is not allowed"},
		{"OV ok", "tls-server-ov", func(r *pki.Request) {}, ""},
		{"OV from validation only", "tls-server-ov", func(r *pki.Request) { r.Subject = pkix.Name{CommonName: "www.example.pt"} }, ""},
		{"OV organisation not validated", "tls-server-ov", func(r *pki.Request) { r.Validated = nil }, "only from the validated organisation"},
		{"OV CSR organisation differs", "tls-server-ov", func(r *pki.Request) { r.Subject.Organization = []string{"Other, S.A."} }, "does not match the validated organisation"},
		{"OV CSR locality differs", "tls-server-ov", func(r *pki.Request) { r.Subject.Locality = []string{"Porto"} }, "does not match the validated organisation"},
		{"OV without locality or state", "tls-server-ov", func(r *pki.Request) { r.Subject.Locality = nil; delete(r.Validated, "L") }, "locality or state"},
		{"OV without country", "tls-server-ov", func(r *pki.Request) { r.Subject.Country = nil; delete(r.Validated, "C") }, "subject attribute C is required"},
		{"OV validated attribute the profile does not take", "tls-server-ov", func(r *pki.Request) { r.Validated["serialNumber"] = "X" }, "does not take a validated serialNumber"},
		{"OV OU dropped", "tls-server-ov", func(r *pki.Request) { r.Subject.OrganizationalUnit = []string{"IT"} }, ""},
		{"upper-case dns", "tls-server", func(r *pki.Request) { r.DNSNames = []string{"WWW.example.pt"}; r.Subject = pkix.Name{} }, "lower case"},
		{"ip as dns", "tls-server", func(r *pki.Request) { r.DNSNames = []string{"192.0.2.1"}; r.Subject = pkix.Name{} }, "ip address"},
		{"bad wildcard", "tls-server", func(r *pki.Request) { r.DNSNames = []string{"www.*.example.pt"}; r.Subject = pkix.Name{} }, "not a valid host name"},
		{"single label", "tls-server", func(r *pki.Request) { r.DNSNames = []string{"localhost"}; r.Subject = pkix.Name{} }, "fully qualified"},
		{"duplicate dns", "tls-server", func(r *pki.Request) { r.DNSNames = []string{"a.example.pt", "a.example.pt"}; r.Subject = pkix.Name{} }, "listed twice"},
		{"email on tls", "tls-server", func(r *pki.Request) { r.EmailAddresses = []string{"a@example.pt"} }, "does not allow email"},
		{"wildcard ok", "tls-server", func(r *pki.Request) { r.DNSNames = []string{"*.example.pt"}; r.Subject = pkix.Name{} }, ""},
		{"rsa ok for tls", "tls-server", func(r *pki.Request) { r.PublicKey = rsa2048 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := pkitest.Request(tc.profile, p256)
			tc.modify(req)
			err := pki.BuiltinProfiles()[tc.profile].CheckRequest(req)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if selo.ErrorCode(err) != selo.EINVALID || !strings.Contains(selo.ErrorMessage(err), tc.want) {
				t.Fatalf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}
