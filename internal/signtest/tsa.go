package signtest

import (
	"testing"
	"time"

	"github.com/selo-qtsp/selo/tsa"
)

// TSAResponder returns a time-stamping responder with a NewTSACertificate
// whose clock is fixed at at, so the tokens it issues fall where the
// pkitest hierarchy is valid.
func TSAResponder(t testing.TB, at time.Time) *tsa.Responder {
	t.Helper()
	s := NewTSACertificate(t)
	r, err := tsa.NewResponder(tsa.Config{Certificate: s.Cert, Chain: s.Chain, Signer: s.Key, Clock: FixedClock(at)})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
