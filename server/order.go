package server

import "net/http"

// orderRoutes mounts the registration desk's order API: officers' routes
// behind api (an API key), the holder's identity check and the payment
// webhook on their own authentication.
func (s *Server) orderRoutes(mux *http.ServeMux, api func(http.HandlerFunc) http.HandlerFunc) {
}
