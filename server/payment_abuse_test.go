package server_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/server"
)

// TestSecondPaymentRefused: a second signed webhook for a paid order with
// another reference (1 cent) is refused with 409 and audited as refused; the
// order keeps its first payment. The same reference under a new event ID is
// acknowledged (200) and changes nothing; a replay of an event ID is 409
// (issue 13 item 5).
func TestSecondPaymentRefused(t *testing.T) {
	onStores(t, func(t *testing.T, open openStore) {
		st := newAbuseStack(t, open)
		key := "Bearer " + st.env.APIKey
		created := send(t, st.srv, "POST", "/api/v1/orders", orderBody("ana@example.pt"), "Authorization", key)
		var out server.CreateOrderResponse
		if created.status != http.StatusCreated || jsonInto(created.body, &out) != nil {
			t.Fatalf("create order: %d %s", created.status, created.body)
		}
		number := out.Order.Number
		webhook := func(id, reference string, cents int) answer {
			body := fmt.Sprintf(`{"id":%q,"type":"payment.succeeded","order_number":%q,"reference":%q,"amount_cents":%d,"currency":"EUR"}`, id, number, reference, cents)
			return send(t, st.srv, "POST", "/api/v1/payments/webhook", body, server.WebhookSignatureHeader, signWebhook(webhookSecret, body, st.clock.Now()))
		}
		if a := webhook("evt_1", "PAY-1", 4990); a.status != http.StatusOK {
			t.Fatalf("first payment: %d %s", a.status, a.body)
		}
		second := webhook("evt_2", "PAY-2", 1)
		if second.status != http.StatusConflict || second.errorCode() != "conflict" {
			t.Fatalf("second payment: %d %s, want 409 conflict", second.status, second.body)
		}
		if n := st.audited(t, "order.payment.webhook", selo.OutcomeFailure, "already has a payment"); n != 1 {
			t.Fatalf("%d refusals of the second payment audited, want 1", n)
		}
		if n := st.audited(t, "order.payment", selo.OutcomeSuccess, "PAY-2"); n != 0 {
			t.Fatalf("the second payment is audited as a success")
		}
		// The provider's retry of the first payment under a new event ID.
		if a := webhook("evt_3", "PAY-1", 4990); a.status != http.StatusOK {
			t.Fatalf("same payment, new event: %d %s", a.status, a.body)
		}
		if a := webhook("evt_3", "PAY-1", 4990); a.status != http.StatusConflict || a.errorCode() != "conflict" {
			t.Fatalf("replayed event: %d %s, want 409", a.status, a.body)
		}
		got := send(t, st.srv, "GET", "/api/v1/orders/"+number, nil, "Authorization", key)
		var o server.OrderResponse
		if got.status != 200 || jsonInto(got.body, &o) != nil || o.Payment == nil {
			t.Fatalf("order: %d %s", got.status, got.body)
		}
		if o.Payment.Reference != "PAY-1" || o.Payment.AmountCents != 4990 {
			t.Fatalf("the order's payment is %+v, want the first (PAY-1, 4990)", o.Payment)
		}
	})
}
