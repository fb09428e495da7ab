package authority

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/worker"
)

// Locker elects the one replica that runs the background worker; see
// worker.Locker.
type Locker = worker.Locker

// RefreshReport says what one pass of the status worker did.
type RefreshReport struct {
	CRLs          int // CRLs published
	OCSPResponses int // OCSP responses signed
	OCSPSigners   int // delegated responders created or renewed
}

// ocspBatch is how many certificates the worker reads at a time.
const ocspBatch = 500

// statusChangesKeep is how long RefreshStatus keeps the store's record of
// status changes that the OCSP responders of every replica read.
const statusChangesKeep = 24 * time.Hour

// RefreshStatus brings the published status of every CA up to date: a new
// CRL where one is due (see crlDue), a delegated OCSP responder where it is missing or near its end,
// and a signed OCSP response for every certificate whose response is missing
// or has less than half its validity left; and it prunes the record of
// status changes older than statusChangesKeep.
func (a *Authority) RefreshStatus(ctx context.Context) (RefreshReport, error) {
	var rep RefreshReport
	cas, err := a.store.ListCAs(ctx)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, ca := range cas {
		if err := a.refreshCA(ctx, ca, &rep); err != nil {
			errs = append(errs, err)
			a.log.Error("refresh certificate status", "ca", ca.ID, "err", err)
		}
	}
	// The responders read the status changes every second; a day is far
	// more than any of them lags behind (one that does forgets everything).
	if _, err := a.store.PruneStatusChanges(ctx, statusChangesKeep); err != nil {
		errs = append(errs, err)
		a.log.Error("prune status changes", "err", err)
	}
	return rep, errors.Join(errs...)
}

func (a *Authority) refreshCA(ctx context.Context, ca *selo.CA, rep *RefreshReport) error {
	now := a.clock.Now()
	state, err := a.store.CRLState(ctx, ca.ID)
	if err != nil {
		return err
	}
	if why := a.crlDue(state, now); why != "" {
		a.log.Info("crl due", "ca", ca.ID, "why", why)
		if _, err := a.PublishCRL(ctx, "system", ca.ID); err != nil {
			return err
		}
		rep.CRLs++
	}

	signer, err := a.store.FindOCSPSigner(ctx, ca.ID)
	if err != nil && selo.ErrorCode(err) != selo.ENOTFOUND {
		return err
	}
	if ca.Status == selo.CARevoked {
		// A revoked CA certifies nothing new: its responder serves until
		// it ends, and its certificates are void through the CA anyway.
		if err != nil || !now.Before(signer.NotAfter) {
			return nil
		}
	} else if err != nil || signer.NotAfter.Sub(now) < ocspSignerRenewBefore {
		if _, err := a.newOCSPSigner(ctx, "system", ca); err != nil {
			return err
		}
		rep.OCSPSigners++
	}

	// One certificate that cannot be signed for must not keep the others
	// from being signed: its error is reported, and the walk goes on.
	var failed int
	var firstErr error
	after := ""
	for {
		certs, err := a.store.ListCertificatesNeedingOCSP(ctx, ca.ID, now.Add(a.ocspValidity/2), after, ocspBatch)
		if err != nil {
			return err
		}
		for _, c := range certs {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := a.ocsp.refresh(ctx, ca.ID, c.Serial); err != nil {
				if failed == 0 {
					firstErr = fmt.Errorf("sign ocsp response of %s: %w", c.Serial, err)
				}
				failed++
				continue
			}
			rep.OCSPResponses++
		}
		if len(certs) < ocspBatch {
			break
		}
		after = certs[len(certs)-1].Serial
	}
	if failed > 1 {
		return fmt.Errorf("%w (and %d more certificates of ca %s)", firstErr, failed-1, ca.ID)
	}
	return firstErr
}

// StatusTask is the certificate status refresh as a task of the worker role:
// RefreshStatus, its report in the log.
func (a *Authority) StatusTask() worker.Task {
	return worker.Task{Name: "certificate status", Run: func(ctx context.Context) error {
		rep, err := a.RefreshStatus(ctx)
		if rep != (RefreshReport{}) {
			a.log.Info("status worker pass", "crls", rep.CRLs, "ocsp_responses", rep.OCSPResponses, "ocsp_signers", rep.OCSPSigners)
		}
		return err
	}}
}

// RunStatusWorker runs RefreshStatus every interval until ctx ends, on the
// one replica that holds the worker's lock (worker.LockName). The others wait
// and take over when it goes away. 'selo serve' runs it with the other tasks
// of the worker role through worker.Run.
func (a *Authority) RunStatusWorker(ctx context.Context, interval time.Duration, lock Locker) error {
	return worker.Run(ctx, lock, interval, a.log, a.StatusTask())
}

// crlRevocationMargin is how much older than a CRL's thisUpdate a revocation
// may be and still not be in it: the second thisUpdate is truncated to, the
// time between a revocation's timestamp and its commit, and clock skew
// between replicas.
const crlRevocationMargin = 5 * time.Second

// crlDue says why the CA whose CRL state is st needs a new CRL now, or "" when
// it does not: there is none yet; a revocation is newer than the latest CRL's
// content (its publication was lost, say to a crash between the revocation's
// commit and the CRL); a CRL number was reserved and never published (a
// publication that did not finish); or less than half its validity is left.
func (a *Authority) crlDue(st *selo.CRLState, now time.Time) string {
	switch {
	case st.Published == 0:
		return "no crl yet"
	case !st.LatestRevocation.IsZero() && !st.LatestRevocation.Before(st.ThisUpdate.Add(-crlRevocationMargin)):
		// thisUpdate is truncated to the second and a revocation's time is
		// taken before its commit: one a little older than thisUpdate may
		// still have been committed after the CRL read the revocations. The
		// margin makes sure it is listed, at the cost of one more CRL.
		return "a revocation may be newer than the crl"
	case st.Reserved > st.Published:
		return "a crl number was reserved and not published"
	case st.NextUpdate.Sub(now) < a.crlValidity/2:
		return "half of its validity is over"
	}
	return ""
}
