package server

import (
	"bytes"
	"html/template"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
)

// outboxPageSize is how many of the newest messages the outbox page shows.
const outboxPageSize = 100

// OutboxMessage is one message of the local outbox, as the API answers it.
type OutboxMessage struct {
	ID        string    `json:"id"`
	Channel   string    `json:"channel"`
	To        string    `json:"to"`
	Subject   string    `json:"subject,omitempty"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// OutboxList is the answer of GET /api/v1/outbox.
type OutboxList struct {
	Messages []OutboxMessage `json:"messages"`
	// Next is the ID to pass as after for the following page; empty on the
	// last page.
	Next string `json:"next,omitempty"`
}

func outboxFilter(r *http.Request, limit int) (notify.OutboxFilter, error) {
	q := r.URL.Query()
	f := notify.OutboxFilter{Channel: q.Get("channel"), To: q.Get("to"), AfterID: q.Get("after"), Limit: limit}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return f, selo.Errorf(selo.EINVALID, "limit must be a whole number from 1 to %d, not %q", MaxPageSize, truncate(v, 16))
		}
		f.Limit = n
	}
	return f, nil
}

// handleListOutbox answers the outbox for operators, oldest first, a page
// at a time (channel, to, after, limit).
func (s *Server) handleListOutbox(w http.ResponseWriter, r *http.Request) {
	f, err := outboxFilter(r, DefaultPageSize)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	msgs, err := s.outbox.List(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := OutboxList{Messages: make([]OutboxMessage, 0, len(msgs))}
	for _, m := range msgs {
		out.Messages = append(out.Messages, OutboxMessage{ID: m.ID, Channel: m.Channel, To: m.To, Subject: m.Subject, Body: m.Body, CreatedAt: m.CreatedAt})
	}
	if len(msgs) == f.Limit {
		out.Next = msgs[len(msgs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
}

// loopbackOnly lets through only requests made on this machine and not
// relayed by a proxy: the outbox holds one-time codes, and the page is for
// the holder sitting at the laptop that runs Selo.
func (s *Server) loopbackOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		ip := net.ParseIP(host)
		relayed := r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-IP") != ""
		if err != nil || ip == nil || !ip.IsLoopback() || relayed {
			s.writeError(w, r, selo.Errorf(selo.EFORBIDDEN, "the outbox page is served only to this machine; operators read the outbox with 'selo outbox' or GET /api/v1/outbox"))
			return
		}
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		next(w, r)
	}
}

// outboxTemplates are parsed on first use, not at start-up: most runs of
// the binary never show the outbox.
var outboxTemplates = sync.OnceValue(func() *template.Template {
	t := template.Must(template.New("list").Parse(outboxListPage))
	template.Must(t.New("message").Parse(outboxMessagePage))
	return t
})

const outboxListPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Selo outbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem;text-align:left;vertical-align:top}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style>
</head><body>
<h1>Outbox</h1>
<p>E-mails and text messages Selo sent here because no SMTP server or SMS gateway is configured.
Newest first{{if .Filtered}}, filtered (<a href="/outbox">show all</a>){{end}}.</p>
{{if .Messages}}<table><thead><tr><th>When</th><th>Channel</th><th>To</th><th>Subject / text</th></tr></thead><tbody>
{{range .Messages}}<tr><td>{{.CreatedAt.UTC.Format "2006-01-02 15:04:05"}} UTC</td><td>{{.Channel}}</td>
<td><a href="/outbox?to={{.To}}">{{.To}}</a></td><td><a href="/outbox/{{.ID}}">{{if .Subject}}{{.Subject}}{{else}}{{.Body}}{{end}}</a></td></tr>
{{end}}</tbody></table>{{else}}<p>The outbox is empty.</p>{{end}}
</body></html>
`

const outboxMessagePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Selo outbox: {{.Channel}} to {{.To}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem}pre{white-space:pre-wrap;background:#f6f6f6;padding:1rem}</style>
</head><body>
<p><a href="/outbox">&larr; Outbox</a></p>
<h1>{{if .Subject}}{{.Subject}}{{else}}Text message{{end}}</h1>
<p>To {{.To}} ({{.Channel}}), {{.CreatedAt.UTC.Format "2006-01-02 15:04:05"}} UTC</p>
<pre>{{.Body}}</pre>
</body></html>
`

// handleOutboxPage shows the newest messages of the outbox (optionally of
// one recipient or channel) as a web page.
func (s *Server) handleOutboxPage(w http.ResponseWriter, r *http.Request) {
	f, err := outboxFilter(r, 0)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f.AfterID, f.Limit = "", 0
	msgs, err := s.outbox.List(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	newest := make([]selo.OutboxMessage, 0, min(len(msgs), outboxPageSize))
	for i := len(msgs) - 1; i >= 0 && len(newest) < outboxPageSize; i-- {
		newest = append(newest, msgs[i])
	}
	s.writeHTML(w, r, "list", map[string]any{"Messages": newest, "Filtered": f.Channel != "" || f.To != ""})
}

// handleOutboxMessagePage shows one message.
func (s *Server) handleOutboxMessagePage(w http.ResponseWriter, r *http.Request) {
	m, err := s.outbox.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeHTML(w, r, "message", m)
}

// writeHTML renders a template fully before answering, so that a template
// error is a clean 500 rather than half a page.
func (s *Server) writeHTML(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := outboxTemplates().ExecuteTemplate(&buf, name, data); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(buf.Bytes())
}
