package portal

import (
	"net/http"
	"strconv"

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

// handleOrders lists the holder's orders with their next step; the
// identity check of an order lives at /account/orders/{id}/identity.
func (p *Portal) handleOrders(w http.ResponseWriter, r *http.Request) {
	var orders []*selo.Order
	if p.reg != nil {
		var err error
		if orders, err = p.reg.HolderOrders(r.Context(), account(r), OrdersPageSize); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.page(w, r, http.StatusOK, "orders", "orders.title", orders, "")
}

// OrdersPageSize bounds the Orders page (a holder has a handful).
const OrdersPageSize = 200
