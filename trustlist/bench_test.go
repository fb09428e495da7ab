package trustlist

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchLists is a generated LOTL with 30 national lists holding 5,000
// CA/QC services in all, and 1,000 signers' chains under random services.
type benchLists struct {
	lotl     string
	lotlCert *x509.Certificate
	chains   [][]*x509.Certificate
}

const (
	benchTLs      = 30
	benchServices = 5000
	benchSigners  = 1000
)

func newBenchLists(b *testing.B) *benchLists {
	b.Helper()
	dir := b.TempDir()
	lotlKey, lotlCert := listSigner(b, "Bench LOTL")
	var pointers []PointerSpec
	type ca struct {
		key  crypto.Signer
		cert *x509.Certificate
	}
	var cas []ca
	for i := range benchTLs {
		tlKey, tlCert := listSigner(b, fmt.Sprintf("Bench TL %d", i))
		var services []ServiceSpec
		for j := i; j < benchServices; j += benchTLs {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(j + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("Bench CA %d", j), Country: []string{"PT"}},
				NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
				KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, SubjectKeyId: []byte{byte(j >> 8), byte(j)}}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
			if err != nil {
				b.Fatal(err)
			}
			cert, _ := x509.ParseCertificate(der)
			cas = append(cas, ca{key, cert})
			services = append(services, ServiceSpec{Type: ServiceTypeCAQC, Name: cert.Subject.CommonName, Certificate: cert,
				Changes: []StatusChange{{StatusGranted, now.AddDate(-1, 0, 0)}}, Qualifications: qualifications()})
		}
		p, err := NewProvider(ProviderInfo{Name: fmt.Sprintf("TSP %d", i), Country: "PT"}, services)
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("tl-%02d.xml", i)
		l := NewList(ListOptions{Type: TypeEUGeneric, SequenceNumber: 1, Territory: fmt.Sprintf("T%d", i), IssueDate: now, NextUpdate: now.AddDate(0, 6, 0), Providers: []*Provider{p}})
		writeSigned(b, l, tlKey, tlCert, filepath.Join(dir, name))
		pointers = append(pointers, PointerSpec{Location: name, Type: TypeEUGeneric, Signers: []*x509.Certificate{tlCert}})
	}
	bl := &benchLists{lotl: filepath.Join(dir, "lotl.xml"), lotlCert: lotlCert}
	writeSigned(b, NewList(ListOptions{Type: TypeEULOTL, SequenceNumber: 1, Territory: "EU", IssueDate: now, NextUpdate: now.AddDate(0, 6, 0), Pointers: pointers}), lotlKey, lotlCert, bl.lotl)
	policies := []x509.OID{mustOID(b, "0.4.0.194112.1.2")}
	qcDER, _ := asn1.Marshal([]struct{ ID asn1.ObjectIdentifier }{{oidQcCompliance}, {oidQcSSCD}})
	qc := []pkix.Extension{{Id: oidQCStatements, Value: qcDER}}
	for i := range benchSigners {
		issuer := cas[(i*7919)%len(cas)]
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: fmt.Sprintf("Signer %d", i)},
			NotBefore: now.AddDate(0, -1, 0), NotAfter: now.AddDate(1, 0, 0), KeyUsage: x509.KeyUsageContentCommitment, Policies: policies, ExtraExtensions: qc}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.cert, key.Public(), issuer.key)
		if err != nil {
			b.Fatal(err)
		}
		leaf, _ := x509.ParseCertificate(der)
		bl.chains = append(bl.chains, []*x509.Certificate{leaf, issuer.cert})
	}
	return bl
}

func mustOID(b *testing.B, s string) x509.OID {
	oid, err := x509.ParseOID(s)
	if err != nil {
		b.Fatal(err)
	}
	return oid
}

// BenchmarkLoadAndGrade loads a LOTL with 30 TLs and 5,000 services (31
// XAdES signature checks) and grades 1,000 signers: each one's chain built
// and checked against the lists' services (an ECDSA verification), then
// graded. It reports the load and the per-signature cost apart.
func BenchmarkLoadAndGrade(b *testing.B) {
	bl := newBenchLists(b)
	ctx := context.Background()
	var load, grade time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		set := (&Loader{Now: now}).LoadLOTL(ctx, bl.lotl, []*x509.Certificate{bl.lotlCert})
		if !set.Usable() || set.Services() != benchServices {
			b.Fatalf("%d services, usable %v", set.Services(), set.Usable())
		}
		mid := time.Now()
		roots := set.Roots()
		for _, chain := range bl.chains {
			chains, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
			if err != nil {
				b.Fatal(err)
			}
			if q := set.Grade(chains[0], now); q.Level != LevelQES {
				b.Fatalf("graded %s: %v", q.Level, q.Reasons)
			}
		}
		load += mid.Sub(start)
		grade += time.Since(mid)
	}
	b.ReportMetric(float64(load.Milliseconds())/float64(b.N), "load-ms/op")
	perSig := float64(grade.Microseconds()) / float64(b.N*benchSigners)
	b.ReportMetric(perSig, "µs/signature")
	// The raw limit: the ECDSA check of each signer's certificate by its
	// CA alone, which any validator must do.
	b.StopTimer()
	start := time.Now()
	for _, chain := range bl.chains {
		if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
			b.Fatal(err)
		}
	}
	raw := float64(time.Since(start).Microseconds()) / benchSigners
	b.ReportMetric(raw, "raw-µs/signature")
	b.ReportMetric(perSig/raw, "grade/raw")
	if info, err := os.Stat(filepath.Dir(bl.lotl)); err == nil && info.IsDir() {
		var total int64
		entries, _ := os.ReadDir(filepath.Dir(bl.lotl))
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				total += fi.Size()
			}
		}
		b.ReportMetric(float64(total)/(1<<20), "MiB-of-lists")
	}
}
