package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
	"github.com/selo-qtsp/selo/server"
)

func outboxServer(t *testing.T, page bool) (*testServer, *notify.Outbox) {
	t.Helper()
	o, err := notify.OpenOutbox(t.TempDir(), selo.SystemClock{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := o.SendEmail(ctx, selo.Email{To: "ana@example.pt", Subject: "Your certificate is ready <b>now</b>", Body: "Order SO-1\nCode: 4821-7733"}); err != nil {
		t.Fatal(err)
	}
	if err := o.SendSMS(ctx, "+351912345678", "Selo code 123456"); err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t, func(c *server.Config) { c.Outbox, c.OutboxPage = o, page })
	return ts, o
}

func TestOutboxAPI(t *testing.T) {
	ts, _ := outboxServer(t, false)
	var list server.OutboxList
	ts.getJSON(t, "/api/v1/outbox", &list)
	if len(list.Messages) != 2 || list.Messages[0].Channel != "email" || list.Messages[1].Body != "Selo code 123456" {
		t.Fatalf("outbox %+v", list)
	}
	ts.getJSON(t, "/api/v1/outbox?channel=sms&to=%2B351912345678", &list)
	if len(list.Messages) != 1 || list.Messages[0].To != "+351912345678" {
		t.Fatalf("filtered outbox %+v", list)
	}
	ts.getJSON(t, "/api/v1/outbox?limit=1", &list)
	if len(list.Messages) != 1 || list.Next == "" {
		t.Fatalf("first page %+v, want one message and a next ID", list)
	}
	ts.getJSON(t, "/api/v1/outbox?limit=1&after="+list.Next, &list)
	if len(list.Messages) != 1 || list.Messages[0].Channel != "sms" {
		t.Fatalf("second page %+v", list)
	}

	resp, body := ts.get(t, "/api/v1/outbox", "Authorization", "")
	wantError(t, resp, body, http.StatusUnauthorized, selo.EUNAUTHORIZED, "API key")
	resp, body = ts.get(t, "/api/v1/outbox?channel=fax")
	wantError(t, resp, body, http.StatusBadRequest, selo.EINVALID, "channel")
	resp, body = ts.get(t, "/api/v1/outbox?limit=0")
	wantError(t, resp, body, http.StatusBadRequest, selo.EINVALID, "limit")

	// Without OutboxPage there is no page.
	resp, body = ts.get(t, "/outbox", "Authorization", "")
	wantError(t, resp, body, http.StatusNotFound, selo.ENOTFOUND, "no such resource")
}

func TestOutboxPage(t *testing.T) {
	ts, o := outboxServer(t, true)
	resp, body := ts.get(t, "/outbox", "Authorization", "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	page := string(body)
	if resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("headers %v", resp.Header)
	}
	// Newest first, and the subject is escaped, not markup.
	sms, mail := strings.Index(page, "Selo code 123456"), strings.Index(page, "Your certificate is ready &lt;b&gt;now&lt;/b&gt;")
	if sms < 0 || mail < 0 || sms > mail {
		t.Fatalf("page does not list the SMS then the escaped e-mail subject:\n%s", page)
	}
	msgs, err := o.List(context.Background(), notify.OutboxFilter{Channel: notify.ChannelEmail})
	if err != nil || len(msgs) != 1 {
		t.Fatal(msgs, err)
	}
	resp, body = ts.get(t, "/outbox/"+msgs[0].ID, "Authorization", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Code: 4821-7733") {
		t.Fatalf("message page %d: %s", resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/outbox/not-an-id", "Authorization", "")
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("bad ID: status %d: %s", resp.StatusCode, body)
	}
	resp, body = ts.get(t, "/outbox?to=ana%40example.pt", "Authorization", "")
	if resp.StatusCode != http.StatusOK || strings.Contains(string(body), "123456") || !strings.Contains(string(body), "ready") {
		t.Fatalf("filtered page: %s", body)
	}

	// A proxy on this machine makes every client look local: relayed
	// requests are refused.
	resp, body = ts.get(t, "/outbox", "Authorization", "", "X-Forwarded-For", "203.0.113.9")
	wantError(t, resp, body, http.StatusForbidden, selo.EFORBIDDEN, "only to this machine")
	resp, body = ts.get(t, "/outbox", "Authorization", "", "Forwarded", "for=203.0.113.9")
	wantError(t, resp, body, http.StatusForbidden, selo.EFORBIDDEN, "only to this machine")

	// A client on another machine is refused.
	h := server.New(server.Config{Authority: ts.env.Authority, Outbox: o, OutboxPage: true}).Handler()
	req := httptest.NewRequest(http.MethodGet, "/outbox", nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "123456") {
		t.Fatalf("remote client: status %d: %s", rec.Code, rec.Body)
	}
}
