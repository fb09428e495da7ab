package server

import "net/http"

// liftRoutes mounts the holder's lift flow, authenticated by the order
// number and its "ready to lift" code.
func (s *Server) liftRoutes(mux *http.ServeMux) {
}
