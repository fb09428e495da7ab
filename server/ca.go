package server

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/pki"
)

// Media types of the public CA files. application/pkix-cert is what RFC 5280
// (4.2.2.1) asks of a caIssuers URL serving one DER certificate.
const (
	mediaPKIXCert = "application/pkix-cert"
	mediaPEM      = "application/x-pem-file"
	mediaPKCS7    = "application/pkcs7-mime"
)

// validCAID reports whether id can be a CA ID (the same slug rule the
// authority enforces), so that junk paths are answered 404 without a query.
func validCAID(id string) bool {
	if id == "" || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' && i > 0) {
			return false
		}
	}
	return true
}

// handleCAFile serves GET /ca/{id}.crt (the CA certificate, DER), .pem (the
// chain from the CA up to the root) and .p7b (the same chain as PKCS#7
// certs-only). These are what relying parties and AIA-chasing clients fetch,
// so they carry validators and a long max-age.
func (s *Server) handleCAFile(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 || !validCAID(file[:dot]) {
		s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no such file: /ca/%s (want /ca/ID.crt, .pem or .p7b)", file))
		return
	}
	id, ext := file[:dot], file[dot+1:]
	ca, err := s.authority.FindCA(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}

	var body []byte
	var mediaType string
	// Parents are created before their children, so the CA's own creation
	// time is also the last change of its chain.
	modified := ca.CreatedAt
	switch ext {
	case "crt":
		body, mediaType = ca.CertDER, mediaPKIXCert
	case "pem", "p7b":
		chain, err := s.authority.Chain(r.Context(), ca.ID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if ext == "pem" {
			body, mediaType = pki.EncodePEM(chain...), mediaPEM
		} else {
			if body, err = pki.EncodeP7B(chain...); err != nil {
				s.writeError(w, r, err)
				return
			}
			mediaType = mediaPKCS7
			w.Header().Set("Content-Disposition", `attachment; filename="`+ca.ID+`.p7b"`)
		}
	default:
		s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no such file: /ca/%s (want /ca/ID.crt, .pem or .p7b)", file))
		return
	}

	sum := sha256.Sum256(body)
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(s.cacheMaxAge/time.Second)))
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	// ServeContent answers conditional requests (If-None-Match,
	// If-Modified-Since), ranges and HEAD from the headers above.
	http.ServeContent(w, r, "", modified, bytes.NewReader(body))
}
