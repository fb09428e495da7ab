package server

import (
	"errors"
	"io"
	"mime"
	"net/http"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki/timestamp"
)

// tsaRoutes mounts the RFC 3161 time-stamp authority at POST /tsa when one
// is configured. It needs no API key, so it is rate limited per address.
func (s *Server) tsaRoutes(mux *http.ServeMux) {
	if s.tsa == nil {
		return
	}
	s.route(mux, "/tsa", s.limited, methods{http.MethodPost: s.handleTimestamp})
}

// handleTimestamp answers a DER TimeStampReq (Content-Type
// application/timestamp-query) with a DER TimeStampResp. Requests the TSA
// refuses still get 200 and a TimeStampResp with status rejection and the
// failure reason (RFC 3161 3.4); only HTTP-level mistakes get JSON errors.
func (s *Server) handleTimestamp(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != timestamp.ContentTypeQuery {
		s.writeError(w, r, selo.Errorf(EUNSUPPORTEDMEDIA, "the body must be a DER TimeStampReq sent as Content-Type: %s", timestamp.ContentTypeQuery))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, timestamp.MaxRequestSize))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeError(w, r, selo.Errorf(selo.ETOOLARGE, "a TimeStampReq is at most %d bytes", timestamp.MaxRequestSize))
			return
		}
		s.writeError(w, r, selo.Errorf(selo.EINVALID, "could not read the request body"))
		return
	}
	resp, _ := s.tsa.Respond(r.Context(), body)
	w.Header().Set("Content-Type", timestamp.ContentTypeReply)
	w.Header().Set("Cache-Control", "no-store")
	w.Write(resp)
}
