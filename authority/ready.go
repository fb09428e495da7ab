package authority

import (
	"context"
	"fmt"

	"github.com/selo-qtsp/selo"
)

// Readiness says what a replica's /readyz checks.
type Readiness struct {
	// OCSP also checks what relying parties get: every CA that is not
	// revoked has a CRL that has not passed its nextUpdate (the worker
	// refreshes CRLs and pre-signed OCSP responses together, so a stale CRL
	// means stale responses too) and an OCSP responder certificate valid
	// now, when it has one.
	OCSP bool
}

// NotReady is Ready's error: What failed ("store", "key store", "status")
// and why. Err of the store and key store may hold connection details; the
// status reasons name only CAs and times.
type NotReady struct {
	What string
	Err  error
}

func (e *NotReady) Error() string { return e.What + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *NotReady) Unwrap() error { return e.Err }

// Ready checks that the store answers and the key store hands out a CA's
// key (a reachable HSM, a readable sealed file), and with r.OCSP that the
// status information is fresh. The error says which check failed, naming
// no secret.
func (a *Authority) Ready(ctx context.Context, r Readiness) error {
	if err := a.Ping(ctx); err != nil {
		return &NotReady{What: "store", Err: err}
	}
	cas, err := a.store.ListCAs(ctx)
	if err != nil {
		return &NotReady{What: "store", Err: err}
	}
	keyChecked := false
	now := a.clock.Now()
	for _, ca := range cas {
		if ca.Status == selo.CARevoked {
			continue
		}
		if !keyChecked && ca.Status == selo.CAActive && ca.KeyID != "" {
			if _, err := a.keys.Signer(ctx, ca.KeyID); err != nil {
				return &NotReady{What: "key store", Err: fmt.Errorf("the key of CA %s: %w", ca.ID, err)}
			}
			keyChecked = true
		}
		if !r.OCSP {
			continue
		}
		info, err := a.store.CRLInfo(ctx, ca.ID)
		switch {
		case selo.ErrorCode(err) == selo.ENOTFOUND:
			// None published yet: the first request publishes one.
		case err != nil:
			return &NotReady{What: "store", Err: err}
		case !now.Before(info.NextUpdate):
			return &NotReady{What: "status", Err: fmt.Errorf("the CRL of CA %s expired at %s: is a worker running?", ca.ID, info.NextUpdate.UTC().Format("2006-01-02T15:04:05Z"))}
		}
		signer, err := a.store.FindOCSPSigner(ctx, ca.ID)
		switch {
		case selo.ErrorCode(err) == selo.ENOTFOUND:
		case err != nil:
			return &NotReady{What: "store", Err: err}
		case !now.Before(signer.NotAfter):
			return &NotReady{What: "status", Err: fmt.Errorf("the OCSP responder certificate of CA %s expired at %s: is a worker running?", ca.ID, signer.NotAfter.UTC().Format("2006-01-02T15:04:05Z"))}
		}
	}
	return nil
}
