// Package notify delivers the e-mail and text messages Selo sends to people:
// into a local outbox (the embedded default, read with `selo outbox` and on
// the server's outbox page), over SMTP, or through an HTTP SMS gateway. None
// of them logs a message's body or text: they carry one-time codes.
package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/selo-qtsp/selo"
)

// The channels of an outbox message.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// waitInterval is how often Wait looks for new messages.
const waitInterval = 50 * time.Millisecond

// Outbox keeps every message it is given as one JSON file in a directory
// instead of delivering it: the embedded default for trying Selo out and for
// tests, where the "sent" one-time codes are read back with `selo outbox`.
// Files are written atomically, so a reader in another process (the CLI while
// the server writes) never sees half a message. It implements selo.Mailer and
// selo.SMSSender and is safe for concurrent use.
type Outbox struct {
	dir   string
	clock selo.Clock

	mu   sync.Mutex
	last time.Time // the time of the newest ID made here, to keep IDs rising
}

// Interface checks.
var (
	_ selo.Mailer    = (*Outbox)(nil)
	_ selo.SMSSender = (*Outbox)(nil)
)

// OpenOutbox opens the outbox in dir, creating the directory (mode 0700)
// when it does not exist. A nil clock is the system clock.
func OpenOutbox(dir string, clock selo.Clock) (*Outbox, error) {
	if dir == "" {
		return nil, selo.Errorf(selo.EINVALID, "the outbox needs a directory")
	}
	if clock == nil {
		clock = selo.SystemClock{}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create outbox directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("open outbox: %w", err)
	}
	if !fi.IsDir() {
		return nil, selo.Errorf(selo.EINVALID, "outbox %s is not a directory", dir)
	}
	return &Outbox{dir: dir, clock: clock}, nil
}

// Dir returns the directory the outbox keeps its messages in.
func (o *Outbox) Dir() string { return o.dir }

// SendEmail stores m in the outbox after checking it as SMTP would.
func (o *Outbox) SendEmail(ctx context.Context, m selo.Email) error {
	if err := ValidateEmail(m); err != nil {
		return err
	}
	return o.store(ctx, selo.OutboxMessage{Channel: ChannelEmail, To: m.To, Subject: m.Subject, Body: m.Body})
}

// SendSMS stores a text message to the E.164 number to in the outbox.
func (o *Outbox) SendSMS(ctx context.Context, to, text string) error {
	if err := ValidateSMS(to, text); err != nil {
		return err
	}
	return o.store(ctx, selo.OutboxMessage{Channel: ChannelSMS, To: to, Body: text})
}

// outboxFile is the JSON form of a message on disk.
type outboxFile struct {
	ID        string    `json:"id"`
	Channel   string    `json:"channel"`
	To        string    `json:"to"`
	Subject   string    `json:"subject,omitempty"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

func (o *Outbox) store(ctx context.Context, m selo.OutboxMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.ID, m.CreatedAt = o.newID()
	b, err := json.MarshalIndent(outboxFile(m), "", "  ")
	if err != nil {
		return fmt.Errorf("encode outbox message: %w", err)
	}
	if err := writeFileAtomic(o.dir, m.ID+".json", append(b, '\n')); err != nil {
		return fmt.Errorf("write outbox message: %w", err)
	}
	return nil
}

// idTimeLayout is the time part of an ID: fixed width and UTC, so IDs sort
// as strings in the order they were made.
const idTimeLayout = "20060102T150405.000000000Z"

// idLength is the length of an ID: the time, a dash and 8 hex digits.
const idLength = len(idTimeLayout) + 1 + 8

// newID returns a new message ID and its time. Within this process every ID
// is greater than the one before, even when the clock stands still or steps
// back: the time then moves on by a nanosecond. The random suffix keeps the
// IDs of two processes writing in the same nanosecond apart.
func (o *Outbox) newID() (string, time.Time) {
	now := o.clock.Now().UTC()
	o.mu.Lock()
	if !now.After(o.last) {
		now = o.last.Add(time.Nanosecond)
	}
	o.last = now
	o.mu.Unlock()
	var suffix [4]byte
	_, _ = rand.Read(suffix[:]) // crypto/rand.Read never fails on supported platforms
	return now.Format(idTimeLayout) + "-" + hex.EncodeToString(suffix[:]), now
}

// validID reports whether id has the shape newID makes, which also keeps any
// path separator or ".." out of the file names built from it.
func validID(id string) bool {
	if len(id) != idLength || id[len(idTimeLayout)] != '-' {
		return false
	}
	if _, err := time.Parse(idTimeLayout, id[:len(idTimeLayout)]); err != nil {
		return false
	}
	for _, c := range id[len(idTimeLayout)+1:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// OutboxFilter selects outbox messages. Zero fields select everything.
type OutboxFilter struct {
	// Channel is ChannelEmail or ChannelSMS.
	Channel string
	// To is the exact recipient: an e-mail address (case-insensitive) or a
	// phone number.
	To string
	// AfterID selects the messages made after the one with this ID.
	AfterID string
	// Limit caps how many messages are returned (the oldest that match).
	Limit int
}

func (f OutboxFilter) validate() error {
	switch {
	case f.Channel != "" && f.Channel != ChannelEmail && f.Channel != ChannelSMS:
		return selo.Errorf(selo.EINVALID, "unknown outbox channel %q: use %s or %s", truncate(f.Channel, 32), ChannelEmail, ChannelSMS)
	case f.AfterID != "" && !validID(f.AfterID):
		return selo.Errorf(selo.EINVALID, "%q is not an outbox message ID", truncate(f.AfterID, 64))
	case f.Limit < 0:
		return selo.Errorf(selo.EINVALID, "the limit must not be negative")
	}
	return nil
}

func (f OutboxFilter) match(m *selo.OutboxMessage) bool {
	if f.Channel != "" && m.Channel != f.Channel {
		return false
	}
	if f.To != "" && !strings.EqualFold(m.To, f.To) {
		return false
	}
	return true
}

// List returns the messages that match f, oldest first.
func (o *Outbox) List(ctx context.Context, f OutboxFilter) ([]selo.OutboxMessage, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(o.dir)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if ok && e.Type().IsRegular() && validID(id) && id > f.AfterID {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := []selo.OutboxMessage{}
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m, err := o.read(id)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the directory was read
		} else if err != nil {
			return nil, err
		}
		if !f.match(m) {
			continue
		}
		out = append(out, *m)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, nil
}

// Get returns the message with the given ID, or an ENOTFOUND error.
func (o *Outbox) Get(ctx context.Context, id string) (*selo.OutboxMessage, error) {
	if !validID(id) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no outbox message %q (IDs look like 20261124T101500.123456789Z-1a2b3c4d)", truncate(id, 64))
	}
	m, err := o.read(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, selo.Errorf(selo.ENOTFOUND, "no outbox message %s", id)
	}
	return m, err
}

func (o *Outbox) read(id string) (*selo.OutboxMessage, error) {
	b, err := os.ReadFile(filepath.Join(o.dir, id+".json"))
	if err != nil {
		return nil, err
	}
	var f outboxFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("outbox message %s: %w", id, err)
	}
	if f.ID != id {
		return nil, fmt.Errorf("outbox message %s: the file holds ID %q", id, f.ID)
	}
	m := selo.OutboxMessage(f)
	return &m, nil
}

// Wait returns the messages that match f as soon as there is at least one,
// looking again every few milliseconds; with f.AfterID set it waits for new
// ones. It returns ctx's error when ctx ends first.
func (o *Outbox) Wait(ctx context.Context, f OutboxFilter) ([]selo.OutboxMessage, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	t := time.NewTicker(waitInterval)
	defer t.Stop()
	for {
		ms, err := o.List(ctx, f)
		if err != nil || len(ms) > 0 {
			return ms, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// writeFileAtomic writes data to dir/name so that readers see either no file
// or the whole of it, and it survives a crash once this returns: a temporary
// file (mode 0600) is written and synced, renamed into place, and the
// directory synced.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
