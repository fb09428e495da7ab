package server

import (
	"net/http"
	"time"

	"github.com/selo-qtsp/selo/csc/cscserver"
)

// funcClock is a selo.Clock over a now function.
type funcClock func() time.Time

func (f funcClock) Now() time.Time { return f() }

// CSCPrefix is where the Cloud Signature Consortium API v2 is served.
const CSCPrefix = "/csc/v2"

// cscRoutes mounts the CSC API v2 over the signing service. auth/login takes
// a password without an API key, so it is rate limited per address like the
// other logins; the other methods need the access token it hands out.
func (s *Server) cscRoutes(mux *http.ServeMux) {
	h := http.StripPrefix(CSCPrefix, cscserver.NewHandler(cscserver.Config{Backend: s.signing, Logger: s.log, Clock: funcClock(s.now)}))
	login := s.limited(h.ServeHTTP)
	mux.HandleFunc(CSCPrefix+"/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == CSCPrefix+"/auth/login" {
			login(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}
