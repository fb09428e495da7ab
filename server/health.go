package server

import (
	"context"
	"net/http"
	"time"

	"github.com/selo-qtsp/selo"
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
