package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/notify"
)

// fakeClock is a selo.Clock that moves only when told to.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var start = time.Date(2026, 11, 24, 10, 15, 0, 123456789, time.FixedZone("CET", 3600))

func openOutbox(t *testing.T) (*notify.Outbox, *fakeClock, string) {
	t.Helper()
	clock := &fakeClock{now: start}
	dir := filepath.Join(t.TempDir(), "outbox")
	o, err := notify.OpenOutbox(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	return o, clock, dir
}

func wantCode(t *testing.T, err error, code, message string) {
	t.Helper()
	if selo.ErrorCode(err) != code {
		t.Fatalf("error %v: code %q, want %q", err, selo.ErrorCode(err), code)
	}
	if !strings.Contains(selo.ErrorMessage(err), message) {
		t.Fatalf("error message %q does not contain %q", selo.ErrorMessage(err), message)
	}
}

func TestOutboxSendAndRead(t *testing.T) {
	ctx := context.Background()
	o, clock, dir := openOutbox(t)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("outbox directory mode %v, want 0700", fi.Mode().Perm())
	}

	mail := selo.Email{To: "ana@example.eu", Subject: "Encomenda pronta — código", Body: "Código: 123456\nObrigado."}
	if err := o.SendEmail(ctx, mail); err != nil {
		t.Fatal(err)
	}
	clock.Add(time.Second)
	if err := o.SendSMS(ctx, "+351912345678", "Selo code 654321"); err != nil {
		t.Fatal(err)
	}

	all, err := o.List(ctx, notify.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 {
		t.Fatalf("List: %d messages, want 2", len(all))
	}
	e, s := all[0], all[1]
	if e.Channel != notify.ChannelEmail || e.To != mail.To || e.Subject != mail.Subject || e.Body != mail.Body {
		t.Errorf("e-mail read back as %+v", e)
	}
	if !e.CreatedAt.Equal(start) || e.CreatedAt.Location() != time.UTC {
		t.Errorf("e-mail CreatedAt %v, want %v in UTC", e.CreatedAt, start)
	}
	if s.Channel != notify.ChannelSMS || s.To != "+351912345678" || s.Body != "Selo code 654321" || s.Subject != "" {
		t.Errorf("SMS read back as %+v", s)
	}
	if !(e.ID < s.ID) {
		t.Errorf("IDs not rising: %q then %q", e.ID, s.ID)
	}

	got, err := o.Get(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if *got != s {
		t.Errorf("Get = %+v, want %+v", *got, s)
	}

	// One file per message, 0600, whole JSON; no temporary files left.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		t.Fatalf("outbox holds %d files, want 2", len(entries))
	}
	for _, en := range entries {
		fi, err := en.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", en.Name(), fi.Mode().Perm())
		}
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Errorf("%s is not JSON: %v", en.Name(), err)
		}
	}

	// A second Outbox on the same directory (another process) reads the same.
	other, err := notify.OpenOutbox(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := other.List(ctx, notify.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 2 || again[0] != e || again[1] != s {
		t.Errorf("a second outbox reads %+v", again)
	}
}

func TestOutboxIDsRise(t *testing.T) {
	ctx := context.Background()
	o, clock, _ := openOutbox(t)
	// The clock stands still, then steps back: IDs must still rise.
	for i := 0; i < 50; i++ {
		if i == 25 {
			clock.Add(-time.Hour)
		}
		if err := o.SendSMS(ctx, "+351912345678", "text "+string(rune('a'+i%26))); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := o.List(ctx, notify.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 50 {
		t.Fatalf("%d messages, want 50", len(ms))
	}
	for i := 1; i < len(ms); i++ {
		if !(ms[i-1].ID < ms[i].ID) {
			t.Fatalf("ID %d %q is not after %q", i, ms[i].ID, ms[i-1].ID)
		}
		if !ms[i].CreatedAt.After(ms[i-1].CreatedAt) {
			t.Fatalf("CreatedAt %d %v is not after %v", i, ms[i].CreatedAt, ms[i-1].CreatedAt)
		}
	}
}

func TestOutboxConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: start}
	dir := t.TempDir()
	// Two outboxes on one directory with one frozen clock: two processes
	// writing in the same nanosecond. Every message must be kept.
	a, err := notify.OpenOutbox(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	b, err := notify.OpenOutbox(dir, clock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 41)
	for i := 0; i < 20; i++ {
		for _, o := range []*notify.Outbox{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- o.SendSMS(ctx, "+351912345678", "concurrent")
			}()
		}
	}
	// A reader lists while the writers write and must only see whole messages.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			ms, err := a.List(ctx, notify.OutboxFilter{})
			if err != nil {
				errs <- err
				return
			}
			for _, m := range ms {
				if m.Body != "concurrent" {
					errs <- fmt.Errorf("reader saw %+v", m)
					return
				}
			}
		}
	}()
	wg.Wait()
	<-done
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ms, err := a.List(ctx, notify.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 40 {
		t.Fatalf("%d messages kept, want 40", len(ms))
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.ID
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("List is not in ID order: %v", ids)
	}
}

func TestOutboxFilter(t *testing.T) {
	ctx := context.Background()
	o, clock, _ := openOutbox(t)
	send := []func() error{
		func() error { return o.SendEmail(ctx, selo.Email{To: "ana@example.eu", Subject: "one", Body: "1"}) },
		func() error { return o.SendSMS(ctx, "+351912345678", "2") },
		func() error { return o.SendEmail(ctx, selo.Email{To: "rui@example.eu", Subject: "three", Body: "3"}) },
		func() error { return o.SendEmail(ctx, selo.Email{To: "ana@example.eu", Subject: "four", Body: "4"}) },
		func() error { return o.SendSMS(ctx, "+351912345679", "5") },
	}
	for _, f := range send {
		clock.Add(time.Millisecond)
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	all, err := o.List(ctx, notify.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter notify.OutboxFilter
		want   string // bodies in order
	}{
		{"all", notify.OutboxFilter{}, "12345"},
		{"email", notify.OutboxFilter{Channel: notify.ChannelEmail}, "134"},
		{"sms", notify.OutboxFilter{Channel: notify.ChannelSMS}, "25"},
		{"to, any case", notify.OutboxFilter{To: "ANA@example.eu"}, "14"},
		{"to phone", notify.OutboxFilter{To: "+351912345679"}, "5"},
		{"after", notify.OutboxFilter{AfterID: all[1].ID}, "345"},
		{"after the last", notify.OutboxFilter{AfterID: all[4].ID}, ""},
		{"limit takes the oldest", notify.OutboxFilter{Limit: 2}, "12"},
		{"all together", notify.OutboxFilter{Channel: notify.ChannelEmail, AfterID: all[0].ID, Limit: 1}, "3"},
		{"nobody", notify.OutboxFilter{To: "nobody@example.eu"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := o.List(ctx, tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got strings.Builder
			for _, m := range ms {
				got.WriteString(m.Body)
			}
			if got.String() != tt.want {
				t.Errorf("bodies %q, want %q", got.String(), tt.want)
			}
		})
	}

	bad := []struct {
		filter  notify.OutboxFilter
		message string
	}{
		{notify.OutboxFilter{Channel: "fax"}, "unknown outbox channel"},
		{notify.OutboxFilter{AfterID: "../../etc/passwd"}, "not an outbox message ID"},
		{notify.OutboxFilter{Limit: -1}, "negative"},
	}
	for _, tt := range bad {
		_, err := o.List(ctx, tt.filter)
		wantCode(t, err, selo.EINVALID, tt.message)
	}
}

func TestOutboxGetNotFound(t *testing.T) {
	ctx := context.Background()
	o, _, dir := openOutbox(t)
	if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "secret.json"), []byte(`{"id":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "nope", "../secret", "20261124T101500.123456789Z-zzzzzzzz", "20261124T101500.123456789Z-1a2b3c4d"} {
		_, err := o.Get(ctx, id)
		wantCode(t, err, selo.ENOTFOUND, "no outbox message")
	}
}

func TestOutboxRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	o, _, dir := openOutbox(t)
	emails := []struct {
		name    string
		m       selo.Email
		message string
	}{
		{"no recipient", selo.Email{Subject: "s", Body: "b"}, "address is required"},
		{"not an address", selo.Email{To: "ana", Subject: "s", Body: "b"}, "not a plain e-mail address"},
		{"display name", selo.Email{To: "Ana <ana@example.eu>", Subject: "s", Body: "b"}, "not a plain e-mail address"},
		{"CRLF in address", selo.Email{To: "ana@example.eu\r\nBcc: eve@example.eu", Subject: "s", Body: "b"}, "line break"},
		{"CRLF in subject", selo.Email{To: "ana@example.eu", Subject: "hi\r\nBcc: eve@example.eu", Body: "b"}, "line break"},
		{"LF in subject", selo.Email{To: "ana@example.eu", Subject: "hi\nthere", Body: "b"}, "line break"},
		{"long subject", selo.Email{To: "ana@example.eu", Subject: strings.Repeat("s", notify.MaxSubjectLength+1), Body: "b"}, "too long"},
		{"empty body", selo.Email{To: "ana@example.eu", Subject: "s", Body: " \n"}, "empty"},
		{"huge body", selo.Email{To: "ana@example.eu", Subject: "s", Body: strings.Repeat("b", notify.MaxEmailBodyLength+1)}, "too long"},
		{"bad UTF-8", selo.Email{To: "ana@example.eu", Subject: "s", Body: "b\xff"}, "UTF-8"},
	}
	for _, tt := range emails {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, o.SendEmail(ctx, tt.m), selo.EINVALID, tt.message)
		})
	}
	sms := []struct {
		name, to, text, message string
	}{
		{"no plus", "351912345678", "t", "E.164"},
		{"spaces", "+351 912 345 678", "t", "E.164"},
		{"too long", "+3519123456789012", "t", "E.164"},
		{"leading zero", "+0351912345", "t", "E.164"},
		{"too long text", "+351912345678", strings.Repeat("x", notify.MaxSMSLength+1), "too long"},
		{"empty text", "+351912345678", "", "empty"},
	}
	for _, tt := range sms {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, o.SendSMS(ctx, tt.to, tt.text), selo.EINVALID, tt.message)
		})
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("refused messages left %d files", len(entries))
	}
}

func TestOutboxWait(t *testing.T) {
	ctx := context.Background()
	o, clock, _ := openOutbox(t)
	if err := o.SendSMS(ctx, "+351912345678", "old"); err != nil {
		t.Fatal(err)
	}
	old, err := o.List(ctx, notify.OutboxFilter{})
	if err != nil {
		t.Fatal(err)
	}

	// An existing match is returned at once.
	ms, err := o.Wait(ctx, notify.OutboxFilter{To: "+351912345678"})
	if err != nil || len(ms) != 1 || ms[0].Body != "old" {
		t.Fatalf("Wait for an existing message: %v, %+v", err, ms)
	}

	// After the last ID it waits for a new message, and skips one that does
	// not match.
	type result struct {
		ms  []selo.OutboxMessage
		err error
	}
	got := make(chan result, 1)
	go func() {
		ms, err := o.Wait(ctx, notify.OutboxFilter{Channel: notify.ChannelEmail, AfterID: old[0].ID})
		got <- result{ms, err}
	}()
	clock.Add(time.Second)
	if err := o.SendSMS(ctx, "+351912345678", "not this one"); err != nil {
		t.Fatal(err)
	}
	if err := o.SendEmail(ctx, selo.Email{To: "ana@example.eu", Subject: "new", Body: "this one"}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-got:
		if r.err != nil || len(r.ms) != 1 || r.ms[0].Body != "this one" {
			t.Fatalf("Wait: %v, %+v", r.err, r.ms)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after a matching message was sent")
	}

	// Nothing comes: Wait ends with its context.
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		_, err := o.Wait(cctx, notify.OutboxFilter{To: "nobody@example.eu"})
		got <- result{nil, err}
	}()
	cancel()
	select {
	case r := <-got:
		if r.err != context.Canceled {
			t.Fatalf("Wait after cancel: %v", r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not end with its context")
	}
}

func TestOpenOutboxRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := notify.OpenOutbox(f, nil); err == nil {
		t.Fatal("OpenOutbox on a file succeeded")
	}
	if _, err := notify.OpenOutbox("", nil); selo.ErrorCode(err) != selo.EINVALID {
		t.Fatalf("OpenOutbox(\"\"): %v", err)
	}
}
