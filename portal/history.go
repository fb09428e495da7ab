package portal

import (
	"net/http"
	"strconv"
	"time"

	"github.com/selo-qtsp/selo"

	"github.com/selo-qtsp/selo/signing"
)

// HistoryPageSize is how many signature batches a history page shows.
const HistoryPageSize = 25

type historyPage struct {
	Rows []signing.SignatureRecord
	Next string // the next page's URL, "" on the last
}

// handleHistory pages the signature history by the audit sequence number
// (?before=N), never by an offset: every page is one indexed read.
func (p *Portal) handleHistory(w http.ResponseWriter, r *http.Request) {
	var before int64
	if q := r.URL.Query().Get("before"); q != "" {
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil || n <= 0 {
			p.notFound(w, r)
			return
		}
		before = n
	}
	rows, err := p.signing.SignatureHistory(r.Context(), account(r), before, HistoryPageSize+1)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	d := historyPage{Rows: rows}
	if len(rows) > HistoryPageSize {
		d.Rows = rows[:HistoryPageSize]
		d.Next = Prefix + "history?before=" + strconv.FormatInt(d.Rows[HistoryPageSize-1].Seq, 10)
	}
	p.page(w, r, http.StatusOK, "history", "history.title", d, "")
}

// orderRow is one order of the Orders page with its next step.
type orderRow struct {
	ID, Number, Profile, Delivery, State string
	CreatedAt                            time.Time
	// Next is the message key of the holder's next step; Identity links to
	// the order's identity check (its page is the registration desk's).
	Next     string
	Identity string
}

// nextStep says what the holder does next in an order of this state.
func nextStep(o *selo.Order) (string, bool) {
	switch o.State {
	case selo.OrderCreated:
		switch o.IdentityStatus {
		case selo.IdentityPending:
			return "orders.next.review", false
		case "", selo.IdentityRefused, selo.IdentityRejected:
			return "orders.next.identity", true
		}
		return "orders.next.payment", false
	case selo.OrderIdentityValidated:
		return "orders.next.payment", false
	case selo.OrderPaid:
		return "orders.next.prepare", false
	case selo.OrderReady, selo.OrderEmailVerified, selo.OrderKeyReady:
		return "orders.next.lift", false
	case selo.OrderIssued, selo.OrderDelivered:
		return "orders.next.done", false
	}
	return "orders.next.closed", false
}

// handleOrders lists the holder's orders (those whose holder e-mail is the
// account's) with their next step; an order that needs an identity check
// links to /account/orders/{id}/identity.
func (p *Portal) handleOrders(w http.ResponseWriter, r *http.Request) {
	var rows []orderRow
	if p.reg != nil {
		acct, err := p.signing.Account(r.Context(), account(r))
		if err != nil {
			p.fail(w, r, err)
			return
		}
		os, err := p.reg.HolderOrders(r.Context(), acct.Email)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, o := range os {
			next, identity := nextStep(o)
			row := orderRow{ID: o.ID, Number: o.Number, Profile: o.Profile, Delivery: string(o.Delivery), State: string(o.State),
				CreatedAt: o.CreatedAt, Next: next}
			if identity {
				row.Identity = Prefix + "orders/" + o.ID + "/identity"
			}
			rows = append(rows, row)
		}
	}
	p.page(w, r, http.StatusOK, "orders", "orders.title", rows, "")
}
