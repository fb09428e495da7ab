package web

import (
	"net/http"
)

// ContentSecurityPolicy is the policy of every page: scripts and styles from
// the server's own files only (no inline script, no eval), images from
// there or data: URIs (the QR codes), forms posting back to the server
// only, and no framing (clickjacking).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// Protect adds the security headers to every answer of next and refuses
// cross-origin unsafe requests (POST and the like) with 403 before next
// sees them. denied, when not nil, writes the refusal page.
func Protect(next http.Handler, denied http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	if denied != nil {
		cop.SetDenyHandler(denied)
	}
	inner := cop.Handler(next)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		inner.ServeHTTP(w, r)
	})
}
