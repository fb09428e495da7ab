package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/authority"
)

// healthTimeout bounds the database check so that a hung database makes the
// health check fail quickly instead of piling up probes.
const healthTimeout = 3 * time.Second

// handleHealth answers 200 "ok" when the database answers, 503 otherwise.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	err := s.authority.Ping(ctx)
	if err != nil {
		s.logger(r).Error("health check: database unreachable", "err", err)
		s.writeError(w, r, selo.Errorf(EUNAVAILABLE, "the database is unreachable"))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok"))
}

// handleReady answers 200 "ready" when this replica can do its work: the
// store and the key store answer and, on an OCSP replica, the CRLs and the
// OCSP responder certificates are current (authority.Ready). Otherwise 503
// with the reason: load balancers take the replica out of rotation while
// /healthz still says the process lives.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	if err := s.authority.Ready(ctx, authority.Readiness{OCSP: s.roles[RoleOCSP]}); err != nil {
		s.logger(r).Warn("not ready", "err", err)
		why := "the check failed"
		var nr *authority.NotReady
		if errors.As(err, &nr) {
			why = nr.What + " unreachable"
			if nr.What == "status" {
				why = nr.Err.Error() // names CAs and times only
			}
		}
		s.writeError(w, r, selo.Errorf(EUNAVAILABLE, "not ready: %s", why))
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ready"))
}
