package storetest

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/selo-qtsp/selo"
)

// orderTests are the order suite's subtests, registered in Run.
var orderTests = []struct {
	name string
	fn   func(*testing.T, OpenFunc)
}{
	{"Order", testOrder},
	{"OrderTransitions", testOrderTransitions},
	{"ConcurrentOrderTransition", testConcurrentOrderTransition},
	{"ListOrders", testListOrders},
	{"PaymentWebhookReplay", testPaymentWebhookReplay},
	{"IdentityChecks", testIdentityChecks},
	{"IdentityEvidence", testIdentityEvidence},
	{"OneTimeCodes", testOneTimeCodes},
	{"ConcurrentCodeTries", testConcurrentCodeTries},
	{"ReopenOrders", testReopenOrders},
}

// newOrder returns an order fixture in state created.
func newOrder(id, number string) *selo.Order {
	return &selo.Order{
		ID: id, Number: number, Profile: "qualified-seal", Delivery: selo.DeliveryCloud, Approval: selo.ApprovalAuthorizer,
		Holder: selo.Holder{GivenNames: "Ana Maria", Surname: "Silva", Email: "ana@example.pt", Mobile: "+351912345678",
			BirthDate: time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC)},
		Subject:   selo.OrderSubject{Country: "PT", Organization: "Exemplo, Lda.", OrganizationIdentifier: "VATPT-500000000", CommonName: "Exemplo e-Seal"},
		CreatedBy: "storetest",
	}
}

// move returns an update of o to state to, with its event and audit entry.
func move(o *selo.Order, to selo.OrderState) *selo.OrderUpdate {
	from := o.State
	o.State = to
	return &selo.OrderUpdate{
		Order:  o,
		Events: []*selo.OrderEvent{{From: from, To: to, Actor: "storetest", Reason: "test"}},
		Audit:  entry("order.transition", "order/"+o.ID),
	}
}

// diffOrder describes how two orders differ, "" when equal (times as instants
// in UTC, nil and empty byte slices alike).
func diffOrder(got, want *selo.Order) string {
	for _, f := range []struct {
		name      string
		got, want time.Time
	}{{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt},
		{"PaidAt", got.PaidAt, want.PaidAt}, {"ReadyNotifiedAt", got.ReadyNotifiedAt, want.ReadyNotifiedAt},
		{"BirthDate", got.Holder.BirthDate, want.Holder.BirthDate}} {
		if !f.got.Equal(f.want) {
			return fmt.Sprintf("%s %v, want %v", f.name, f.got, f.want)
		}
		if !f.got.IsZero() && f.got.Location() != time.UTC {
			return fmt.Sprintf("%s in %v, want UTC", f.name, f.got.Location())
		}
	}
	if !bytes.Equal(got.CSR, want.CSR) {
		return "CSR differs"
	}
	g, w := *got, *want
	for _, o := range []*selo.Order{&g, &w} {
		o.CreatedAt, o.UpdatedAt, o.PaidAt, o.ReadyNotifiedAt, o.Holder.BirthDate, o.CSR = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}, nil
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Sprintf("got %+v, want %+v", g, w)
	}
	return ""
}

// mustFindOrder returns the stored order with this ID.
func mustFindOrder(tb testing.TB, st selo.Store, id string) *selo.Order {
	tb.Helper()
	o, err := st.FindOrder(context.Background(), id)
	must(tb, err)
	return o
}

func testOrder(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	o := newOrder("o1", "SO-2026-0001")
	must(t, st.CreateOrder(ctx, o, entry("order.create", "order/o1")))
	if o.State != selo.OrderCreated || o.Version != 1 || !o.CreatedAt.Equal(micro(start)) {
		t.Fatalf("created order has state %s, version %d, created %v", o.State, o.Version, o.CreatedAt)
	}
	for _, find := range []func() (*selo.Order, error){
		func() (*selo.Order, error) { return st.FindOrder(ctx, "o1") },
		func() (*selo.Order, error) { return st.FindOrderByNumber(ctx, "SO-2026-0001") },
	} {
		got, err := find()
		must(t, err)
		if d := diffOrder(got, o); d != "" {
			t.Fatalf("stored order: %s", d)
		}
	}
	_, err := st.FindOrder(ctx, "nope")
	wantCode(t, err, selo.ENOTFOUND)
	_, err = st.FindOrderByNumber(ctx, "SO-0")
	wantCode(t, err, selo.ENOTFOUND)

	// The number is unique by constraint, and so is the ID.
	wantCode(t, st.CreateOrder(ctx, newOrder("o2", "SO-2026-0001"), entry("order.create", "order/o2")), selo.ECONFLICT)
	wantCode(t, st.CreateOrder(ctx, newOrder("o1", "SO-2026-0002"), entry("order.create", "order/o1")), selo.ECONFLICT)
	bad := newOrder("o3", "SO-2026-0003")
	bad.Delivery = "pigeon"
	wantCode(t, st.CreateOrder(ctx, bad, entry("order.create", "order/o3")), selo.EINVALID)
	bad = newOrder("o3", "SO-2026-0003")
	bad.Approval = "carrier-pigeon"
	wantCode(t, st.CreateOrder(ctx, bad, entry("order.create", "order/o3")), selo.EINVALID)
	wantCode(t, st.CreateOrder(ctx, newOrder("o4", "SO-2026-0004"), nil), selo.EINVALID)
	wantIntactAudit(t, st, 1)

	events, err := st.ListOrderEvents(ctx, "o1")
	must(t, err)
	if len(events) != 1 || events[0].To != selo.OrderCreated || events[0].From != "" || events[0].Actor != "storetest" {
		t.Fatalf("history of a new order: %+v", events)
	}
}

func testOrderTransitions(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	o := newOrder("o1", "SO-1")
	must(t, st.CreateOrder(ctx, o, entry("order.create", "order/o1")))
	read := mustFindOrder(t, st, "o1")

	// An illegal transition is refused and writes nothing.
	skip := *read
	wantCode(t, st.UpdateOrder(ctx, move(&skip, selo.OrderIssued)), selo.EINVALID)
	// A state change without its event is refused too.
	silent := *read
	silent.State = selo.OrderPaid
	wantCode(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: &silent, Audit: entry("x", "y")}), selo.EINVALID)
	wantIntactAudit(t, st, 1)

	clock.Add(time.Minute)
	next := *read
	next.IdentityStatus, next.IdentityAttempts = selo.IdentityApproved, 1
	next.PaidAt, next.PaymentReference, next.PaymentAmountCents, next.PaymentCurrency = start.Add(time.Second), "PAY-1", 4990, "EUR"
	u := move(&next, selo.OrderIdentityValidated)
	u.Events = append(u.Events, &selo.OrderEvent{To: selo.OrderPaid, Reason: "payment recorded earlier"})
	next.State = selo.OrderPaid
	must(t, st.UpdateOrder(ctx, u))
	if next.Version != 2 || !next.UpdatedAt.Equal(micro(start.Add(time.Minute))) {
		t.Fatalf("after update: version %d, updated %v", next.Version, next.UpdatedAt)
	}
	if d := diffOrder(mustFindOrder(t, st, "o1"), &next); d != "" {
		t.Fatalf("stored after update: %s", d)
	}

	// Repeating the same update (the version read before it) loses: the
	// order moved on since.
	again := *read
	again.State = selo.OrderCreated
	wantCode(t, st.UpdateOrder(ctx, move(&again, selo.OrderIdentityValidated)), selo.ECONFLICT)
	wantIntactAudit(t, st, 2)

	events, err := st.ListOrderEvents(ctx, "o1")
	must(t, err)
	var path []selo.OrderState
	for _, e := range events {
		path = append(path, e.To)
	}
	if want := []selo.OrderState{selo.OrderCreated, selo.OrderIdentityValidated, selo.OrderPaid}; !reflect.DeepEqual(path, want) {
		t.Fatalf("history %v, want %v", path, want)
	}
	if events[2].From != selo.OrderIdentityValidated || events[2].Actor != "storetest" || events[2].Reason != "payment recorded earlier" {
		t.Fatalf("chained event: %+v", events[2])
	}

	// A change without a transition needs no event.
	cur := mustFindOrder(t, st, "o1")
	cur.ReservedSerial = "0abc"
	must(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: cur, Audit: entry("order.key", "order/o1")}))
	if got := mustFindOrder(t, st, "o1"); got.ReservedSerial != "0abc" || got.Version != 3 {
		t.Fatalf("reserved serial %q version %d", got.ReservedSerial, got.Version)
	}
	// A terminal state has no way out.
	cur = mustFindOrder(t, st, "o1")
	must(t, st.UpdateOrder(ctx, move(cur, selo.OrderCancelled)))
	wantCode(t, st.UpdateOrder(ctx, move(cur, selo.OrderReady)), selo.EINVALID)
}

func testConcurrentOrderTransition(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	must(t, st.CreateOrder(ctx, newOrder("o1", "SO-1"), entry("order.create", "order/o1")))
	read := mustFindOrder(t, st, "o1")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := *read
			to := selo.OrderIdentityValidated
			if i%2 == 1 {
				to = selo.OrderCancelled
			}
			errs[i] = st.UpdateOrder(ctx, move(&o, to))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch selo.ErrorCode(err) {
		case "":
			wins++
		case selo.ECONFLICT:
		default:
			t.Fatalf("racing transition: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d racing transitions won, want exactly 1", wins)
	}
	events, err := st.ListOrderEvents(ctx, "o1")
	must(t, err)
	if len(events) != 2 {
		t.Fatalf("history holds %d events, want 2", len(events))
	}
	if got := mustFindOrder(t, st, "o1"); got.State != events[1].To || got.Version != 2 {
		t.Fatalf("order is %s v%d, last event to %s", got.State, got.Version, events[1].To)
	}
	wantIntactAudit(t, st, 2)
}

func testListOrders(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	var wantCreated, wantPaid []string
	for i := range 13 {
		id := fmt.Sprintf("o%02d", i)
		must(t, st.CreateOrder(ctx, newOrder(id, "SO-"+id), entry("order.create", "order/"+id)))
		if i%3 == 0 {
			o := mustFindOrder(t, st, id)
			must(t, st.UpdateOrder(ctx, move(o, selo.OrderIdentityValidated)))
			must(t, st.UpdateOrder(ctx, move(o, selo.OrderPaid)))
			wantPaid = append(wantPaid, id)
		} else {
			wantCreated = append(wantCreated, id)
		}
	}
	page := func(filter selo.OrderFilter) []string {
		var ids []string
		for {
			orders, err := st.ListOrders(ctx, filter)
			must(t, err)
			if len(orders) == 0 {
				return ids
			}
			if filter.Limit > 0 && len(orders) > filter.Limit {
				t.Fatalf("page of %d orders, limit %d", len(orders), filter.Limit)
			}
			for _, o := range orders {
				if filter.State != "" && o.State != filter.State {
					t.Fatalf("filter %s returned order %s in %s", filter.State, o.ID, o.State)
				}
				ids = append(ids, o.ID)
			}
			filter.AfterID = orders[len(orders)-1].ID
		}
	}
	if got := page(selo.OrderFilter{State: selo.OrderCreated, Limit: 4}); !reflect.DeepEqual(got, wantCreated) {
		t.Fatalf("created orders %v, want %v", got, wantCreated)
	}
	if got := page(selo.OrderFilter{State: selo.OrderPaid, Limit: 2}); !reflect.DeepEqual(got, wantPaid) {
		t.Fatalf("paid orders %v, want %v", got, wantPaid)
	}
	if got := page(selo.OrderFilter{Limit: 5}); len(got) != 13 {
		t.Fatalf("all orders: %d, want 13", len(got))
	}
	all, err := st.ListOrders(ctx, selo.OrderFilter{})
	must(t, err)
	if len(all) != 13 {
		t.Fatalf("unlimited list: %d orders", len(all))
	}
	_, err = st.ListOrders(ctx, selo.OrderFilter{Limit: -1})
	wantCode(t, err, selo.EINVALID)
}

func testPaymentWebhookReplay(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	must(t, st.CreateOrder(ctx, newOrder("o1", "SO-1"), entry("order.create", "order/o1")))
	o := mustFindOrder(t, st, "o1")
	o.PaidAt, o.PaymentReference = start, "evt_1"
	must(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, WebhookEventID: "evt_1", Audit: entry("order.pay", "order/o1")}))
	// The same event again, even on a fresh read, is a replay.
	o = mustFindOrder(t, st, "o1")
	o.PaymentReference = "evt_1 again"
	wantCode(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, WebhookEventID: "evt_1", Audit: entry("order.pay", "order/o1")}), selo.ECONFLICT)
	if got := mustFindOrder(t, st, "o1"); got.PaymentReference != "evt_1" || got.Version != 2 {
		t.Fatalf("a refused replay changed the order: %+v", got)
	}
	wantIntactAudit(t, st, 2)
}

func testIdentityChecks(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	clock := NewClock(start)
	st := open(t, clock).Store
	must(t, st.CreateOrder(ctx, newOrder("o1", "SO-1"), entry("order.create", "order/o1")))
	o := mustFindOrder(t, st, "o1")
	refused := &selo.IdentityCheck{ID: "c1", OrderID: "o1", DocumentType: "passport", Country: "PT", DocumentNumber: "X1",
		DocumentExpiry: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), MRZ: "P<PRT...", MachineReason: "check digit", Status: selo.IdentityRefused,
		DecidedAt: start}
	o.IdentityStatus, o.IdentityAttempts = selo.IdentityRefused, 1
	must(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, CreateCheck: refused, Audit: entry("identity.submit", "order/o1")}))
	pending := &selo.IdentityCheck{ID: "c2", OrderID: "o1", DocumentType: "id-card", Country: "PT", DocumentNumber: "X2",
		MRZ: "I<PRT...", MRZResult: `{"surname":"SILVA"}`, Pending: []string{"photo", "video"}, Status: selo.IdentityPending, Copy: false}
	o.IdentityStatus, o.IdentityAttempts = selo.IdentityPending, 2
	must(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, CreateCheck: pending, Audit: entry("identity.submit", "order/o1")}))
	wantCode(t, st.UpdateOrder(ctx, &selo.OrderUpdate{Order: o, CreateCheck: pending, Audit: entry("identity.submit", "order/o1")}), selo.ECONFLICT)

	got, err := st.FindIdentityCheck(ctx, "c2")
	must(t, err)
	if !reflect.DeepEqual(got.Pending, pending.Pending) || got.MRZResult != pending.MRZResult || got.Status != selo.IdentityPending ||
		!got.SubmittedAt.Equal(micro(start)) || !got.DecidedAt.IsZero() || !got.DocumentExpiry.IsZero() {
		t.Fatalf("stored check %+v", got)
	}
	queue, err := st.ListIdentityChecks(ctx, selo.IdentityCheckFilter{Status: selo.IdentityPending})
	must(t, err)
	if len(queue) != 1 || queue[0].ID != "c2" {
		t.Fatalf("pending queue %+v", queue)
	}
	byOrder, err := st.ListIdentityChecks(ctx, selo.IdentityCheckFilter{OrderID: "o1", Limit: 1})
	must(t, err)
	if len(byOrder) != 1 || byOrder[0].ID != "c1" {
		t.Fatalf("first check of the order %+v", byOrder)
	}

	// Two officers decide at once: one decision stands.
	clock.Add(time.Hour)
	read := mustFindOrder(t, st, "o1")
	decide := func(status selo.IdentityCheckStatus, officer string) error {
		o := *read
		d := *got
		d.Status, d.Officer, d.DecisionReasons = status, officer, "looked at it"
		o.IdentityStatus = status
		u := &selo.OrderUpdate{Order: &o, DecideCheck: &d, Audit: entry("identity.decide", "order/o1")}
		if status == selo.IdentityApproved {
			o.State = selo.OrderIdentityValidated
			u.Events = []*selo.OrderEvent{{To: selo.OrderIdentityValidated}}
		}
		return st.UpdateOrder(ctx, u)
	}
	must(t, decide(selo.IdentityApproved, "officer:a"))
	wantCode(t, decide(selo.IdentityRejected, "officer:b"), selo.ECONFLICT)
	// Even with a fresh read of the order, a decided check stays decided.
	read = mustFindOrder(t, st, "o1")
	wantCode(t, decide(selo.IdentityRejected, "officer:b"), selo.ECONFLICT)
	got, err = st.FindIdentityCheck(ctx, "c2")
	must(t, err)
	if got.Status != selo.IdentityApproved || got.Officer != "officer:a" || !got.DecidedAt.Equal(micro(start.Add(time.Hour))) {
		t.Fatalf("decided check %+v", got)
	}
	_, err = st.FindIdentityCheck(ctx, "c9")
	wantCode(t, err, selo.ENOTFOUND)
}

func testOneTimeCodes(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	code := &selo.OneTimeCode{Owner: "order/o1", Purpose: "lift", Hash: []byte("hash-1"), ExpiresAt: start.Add(time.Hour)}
	must(t, st.PutOneTimeCode(ctx, code, entry("code.create", "order/o1")))
	wantCode(t, st.PutOneTimeCode(ctx, &selo.OneTimeCode{Owner: "order/o1", Purpose: "lift", ExpiresAt: start}, entry("x", "y")), selo.EINVALID)

	for want := 1; want <= 3; want++ {
		c, err := st.TryOneTimeCode(ctx, "order/o1", "lift", 3)
		must(t, err)
		if c.Failures != want || !bytes.Equal(c.Hash, []byte("hash-1")) || !c.ExpiresAt.Equal(micro(start.Add(time.Hour))) {
			t.Fatalf("try %d: %+v", want, c)
		}
	}
	_, err := st.TryOneTimeCode(ctx, "order/o1", "lift", 3)
	wantCode(t, err, selo.EFORBIDDEN)
	// A matched try is taken back; then one more try fits.
	must(t, st.ReleaseOneTimeCodeTry(ctx, "order/o1", "lift"))
	c, err := st.TryOneTimeCode(ctx, "order/o1", "lift", 3)
	must(t, err)
	if c.Failures != 3 {
		t.Fatalf("failures after release and try: %d", c.Failures)
	}
	// Replacing the code resets its failures.
	must(t, st.PutOneTimeCode(ctx, &selo.OneTimeCode{Owner: "order/o1", Purpose: "lift", Hash: []byte("hash-2"), ExpiresAt: start.Add(time.Hour)}, entry("code.create", "order/o1")))
	c, err = st.TryOneTimeCode(ctx, "order/o1", "lift", 3)
	must(t, err)
	if c.Failures != 1 || string(c.Hash) != "hash-2" {
		t.Fatalf("replaced code %+v", c)
	}
	_, err = st.TryOneTimeCode(ctx, "order/o1", "email", 3)
	wantCode(t, err, selo.ENOTFOUND)
	must(t, st.DeleteOneTimeCode(ctx, "order/o1", "lift", entry("code.use", "order/o1")))
	wantCode(t, st.DeleteOneTimeCode(ctx, "order/o1", "lift", entry("code.use", "order/o1")), selo.ENOTFOUND)
	wantIntactAudit(t, st, 3)
}

func testConcurrentCodeTries(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	st := open(t, NewClock(start)).Store
	must(t, st.PutOneTimeCode(ctx, &selo.OneTimeCode{Owner: "o", Purpose: "p", Hash: []byte{1}, ExpiresAt: start.Add(time.Hour)}, entry("code.create", "o")))
	const n, max = 20, 5
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := st.TryOneTimeCode(ctx, "o", "p", max)
			mu.Lock()
			defer mu.Unlock()
			switch selo.ErrorCode(err) {
			case "":
				ok++
			case selo.EFORBIDDEN:
			default:
				t.Errorf("try: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != max {
		t.Fatalf("%d of %d concurrent tries were allowed, want exactly %d", ok, n, max)
	}
}

func testReopenOrders(t *testing.T, open OpenFunc) {
	ctx := context.Background()
	b := open(t, NewClock(start))
	st := b.Store
	o := newOrder("o1", "SO-1")
	o.CSR = []byte{0x30, 0x01, 0x02}
	must(t, st.CreateOrder(ctx, o, entry("order.create", "order/o1")))
	must(t, st.UpdateOrder(ctx, move(o, selo.OrderIdentityValidated)))
	must(t, st.PutOneTimeCode(ctx, &selo.OneTimeCode{Owner: "order/o1", Purpose: "lift", Hash: []byte{9}, ExpiresAt: start.Add(time.Hour)}, entry("code.create", "order/o1")))
	must(t, st.Close())

	st = b.Reopen(t)
	got, err := st.FindOrderByNumber(ctx, "SO-1")
	must(t, err)
	if d := diffOrder(got, o); d != "" {
		t.Fatalf("order after reopen: %s", d)
	}
	events, err := st.ListOrderEvents(ctx, "o1")
	must(t, err)
	if len(events) != 2 || events[1].To != selo.OrderIdentityValidated {
		t.Fatalf("history after reopen: %+v", events)
	}
	if _, err := st.TryOneTimeCode(ctx, "order/o1", "lift", 5); err != nil {
		t.Fatalf("code after reopen: %v", err)
	}
	// The state machine goes on where it stopped.
	must(t, st.UpdateOrder(ctx, move(got, selo.OrderPaid)))
	wantIntactAudit(t, st, 4)
}
