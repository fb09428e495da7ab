// Package web is the kit Selo's browser portals share: the holder portal
// (/account/, package portal) and the registration desk's back office
// (/desk/). It holds no page of its own beyond the layout; each portal brings
// its pages and messages and uses these pieces:
//
//   - Sessions: opaque random tokens in a cookie, stored as SHA-256 hashes in
//     the web_sessions table (selo.WebSessionStore, migration 010) under a
//     kind (selo.WebSessionHolder, selo.WebSessionOfficer, ...). Cookies are
//     HttpOnly, SameSite=Lax, Secure when the base URL is https, scoped to
//     the portal's path. A session ends after IdleTimeout without a request
//     and AbsoluteTimeout after it began, whatever happens. Start sets the
//     cookie, Get reads it (nil when absent or ended), Rotate gives a
//     session a new token when it gains privilege (after the second factor),
//     End and EndOthers end sessions (sign-out, password change). Issue and
//     Lookup make and read a token that travels in a link, not a cookie
//     (password reset); LookupHash finds a session by its token's hash (a
//     phone's QR approval signing a browser in).
//   - Protect: the security headers of every page (a strict
//     Content-Security-Policy with no inline script or style,
//     frame-ancestors 'none', nosniff, no referrer, no-store) and the
//     refusal of cross-origin POSTs (net/http.CrossOriginProtection: the
//     browser's Sec-Fetch-Site, else Origin against Host).
//   - Catalog and Lang: messages in Portuguese and English from "key = text"
//     files (the kit's own in messages/, a portal's added with
//     Catalog.Add); the language from the ?lang= link (kept in a cookie),
//     else the cookie, else Accept-Language, else Portuguese.
//   - Renderer and Page: html/template pages embedded in the binary, each a
//     "content" block inside the kit's layout, parsed once on first use
//     (not at start-up). Templates read texts with {{.T "key"}}; every value
//     is escaped by html/template.
//   - Assets: the embedded style sheet and the one script (poll.js, which
//     polls a URL named by a data-poll attribute and follows the redirect
//     it answers: the QR flows). Pages work without JavaScript otherwise.
//
// The API is stable: the holder portal and the back office are built on it
// in parallel.
package web
