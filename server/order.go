package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/registration"
)

// The registration desk's order API. Officers (and integrating shops) use an
// operator API key; the holder submits an identity check with the order's
// access code in the body; the payment provider signs its webhook. The API
// never answers a code, except the access code once, in the answer that
// creates the order.

// WebhookSignatureHeader carries the payment webhook's signature:
// "t=<unix seconds>,v1=<hex HMAC-SHA256>" (see docs/orders.md).
const WebhookSignatureHeader = "Selo-Signature"

// Limits of the order API's fields, far above real values, so that a message
// quoting one stays short and a check row stays small.
const (
	maxOrderNumberLength    = 64
	maxDocumentFieldLength  = 64
	maxMRZLength            = 300 // a TD1 MRZ is 3×30 characters, a TD3 2×44, plus line breaks
	maxDecisionReasonLength = 2000
)

// orderRoutes mounts the registration desk's order API: officers' routes
// behind api (an API key), the holder's identity check and the payment
// webhook on their own authentication.
func (s *Server) orderRoutes(mux *http.ServeMux, api func(http.HandlerFunc) http.HandlerFunc) {
	s.route(mux, "/api/v1/orders", api, methods{http.MethodGet: s.handleListOrders, http.MethodPost: s.handleCreateOrder})
	s.route(mux, "/api/v1/orders/{number}", api, methods{http.MethodGet: s.handleGetOrder})
	s.route(mux, "/api/v1/orders/{number}/events", api, methods{http.MethodGet: s.handleOrderEvents})
	s.route(mux, "/api/v1/orders/{number}/payment", api, methods{http.MethodPost: s.handleRecordPayment})
	s.route(mux, "/api/v1/orders/{number}/cancel", api, methods{http.MethodPost: s.handleCancelOrder})
	s.route(mux, "/api/v1/orders/{number}/token-csr", api, methods{http.MethodPost: s.handleTokenCSR})
	s.route(mux, "/api/v1/orders/{number}/lift-code", api, methods{http.MethodPost: s.handleRenewLiftCode})
	s.route(mux, "/api/v1/identity-checks", api, methods{http.MethodGet: s.handleIdentityQueue})
	s.route(mux, "/api/v1/identity-checks/{id}/decision", api, methods{http.MethodPost: s.handleDecideIdentityCheck})
	// The holder proves the order's access code, which is worth guessing:
	// rate limited like every endpoint that guards a secret.
	s.route(mux, "/api/v1/orders/{number}/identity-check", s.limited, methods{http.MethodPost: s.handleSubmitIdentityCheck})
	// The payment provider proves an HMAC over the body, which cannot be
	// guessed; a rate limit would only delay real payments from the
	// provider's few addresses.
	s.route(mux, "/api/v1/payments/webhook", noStoreRoute, methods{http.MethodPost: s.handlePaymentWebhook})
}

// noStoreRoute marks answers uncacheable; the handler authenticates.
func noStoreRoute(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next(w, r)
	}
}

// HolderJSON is an order's holder.
type HolderJSON struct {
	GivenNames string `json:"given_names"`
	Surname    string `json:"surname"`
	Email      string `json:"email"`
	Mobile     string `json:"mobile"`
	// BirthDate is YYYY-MM-DD; optional.
	BirthDate string `json:"birth_date,omitempty"`
	// Language of the holder's e-mails: "pt" or "en"; optional (see docs/orders.md).
	Language string `json:"language,omitempty"`
}

// OrderSubjectJSON is the certificate subject data an order asks for.
type OrderSubjectJSON struct {
	CommonName             string   `json:"common_name,omitempty"`
	Country                string   `json:"country,omitempty"`
	Organization           string   `json:"organization,omitempty"`
	Locality               string   `json:"locality,omitempty"`
	State                  string   `json:"state,omitempty"`
	OrganizationIdentifier string   `json:"organization_identifier,omitempty"`
	SerialNumber           string   `json:"serial_number,omitempty"`
	DNSNames               []string `json:"dns_names,omitempty"`
}

// CreateOrderRequest is the body of POST /api/v1/orders.
type CreateOrderRequest struct {
	Holder   HolderJSON       `json:"holder"`
	Profile  string           `json:"profile"`
	Delivery string           `json:"delivery"` // software, token or cloud
	Subject  OrderSubjectJSON `json:"subject"`
	// Approval is, for cloud delivery, how signatures with the credential
	// are approved: sms, authenticator, wallet or authorizer (e-seals).
	Approval string `json:"approval,omitempty"`
}

// PaymentJSON is a payment recorded on an order.
type PaymentJSON struct {
	PaidAt      time.Time `json:"paid_at"`
	Reference   string    `json:"reference"`
	AmountCents int64     `json:"amount_cents"`
	Currency    string    `json:"currency"`
}

// OrderResponse describes an order to officers.
type OrderResponse struct {
	ID               string           `json:"id"`
	Number           string           `json:"number"`
	State            string           `json:"state"`
	Profile          string           `json:"profile"`
	Delivery         string           `json:"delivery"`
	Approval         string           `json:"approval,omitempty"`
	Holder           HolderJSON       `json:"holder"`
	Subject          OrderSubjectJSON `json:"subject"`
	IdentityStatus   string           `json:"identity_status,omitempty"`
	IdentityAttempts int              `json:"identity_attempts"`
	// Payment is absent until a payment is recorded.
	Payment           *PaymentJSON `json:"payment,omitempty"`
	ReadyNotifiedAt   *time.Time   `json:"ready_notified_at,omitempty"`
	CertificateSerial string       `json:"certificate_serial,omitempty"`
	CreatedBy         string       `json:"created_by"`
	CreatedAt         time.Time    `json:"created_at"`
	UpdatedAt         time.Time    `json:"updated_at"`
}

// CreateOrderResponse is the answer of POST /api/v1/orders. AccessCode is
// the holder's identity access code, shown here once (and e-mailed to the
// holder); Selo keeps only its keyed hash.
type CreateOrderResponse struct {
	Order      *OrderResponse `json:"order"`
	AccessCode string         `json:"access_code"`
}

// OrderList is one page of GET /api/v1/orders. Next, when set, is the
// "after" value of the following page.
type OrderList struct {
	Orders []*OrderResponse `json:"orders"`
	Next   string           `json:"next,omitempty"`
}

// OrderEventJSON is one transition in an order's history.
type OrderEventJSON struct {
	From   string    `json:"from,omitempty"`
	To     string    `json:"to"`
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	Time   time.Time `json:"time"`
}

// OrderEventList is the answer of GET /api/v1/orders/{number}/events.
type OrderEventList struct {
	Number string            `json:"number"`
	Events []*OrderEventJSON `json:"events"`
}

// RecordPaymentRequest is the body of POST /api/v1/orders/{number}/payment.
type RecordPaymentRequest struct {
	Reference   string `json:"reference"`
	AmountCents int64  `json:"amount_cents"`
	Currency    string `json:"currency"`
}

// CancelOrderRequest is the body of POST /api/v1/orders/{number}/cancel.
// Reject refuses the order (state rejected) instead of cancelling it.
type CancelOrderRequest struct {
	Reason string `json:"reason"`
	Reject bool   `json:"reject,omitempty"`
}

// IdentityCheckRequest is the holder's body of POST
// /api/v1/orders/{number}/identity-check. The access code authenticates it.
type IdentityCheckRequest struct {
	AccessCode     string `json:"access_code"`
	DocumentType   string `json:"document_type"`
	Country        string `json:"country"`
	DocumentNumber string `json:"document_number"`
	ExpiryDate     string `json:"expiry_date"` // YYYY-MM-DD
	MRZ            string `json:"mrz"`
	Copy           bool   `json:"copy,omitempty"`
}

// IdentityCheckResponse describes an identity check. The holder's answer
// carries only the outcome; the officers' queue adds the document data and
// the holder's name to compare it with.
type IdentityCheckResponse struct {
	ID            string   `json:"id"`
	OrderNumber   string   `json:"order_number"`
	Status        string   `json:"status"`
	MachineReason string   `json:"machine_reason,omitempty"`
	Pending       []string `json:"pending,omitempty"`
	// For officers only.
	Holder          *HolderJSON     `json:"holder,omitempty"`
	DocumentType    string          `json:"document_type,omitempty"`
	Country         string          `json:"country,omitempty"`
	DocumentNumber  string          `json:"document_number,omitempty"`
	ExpiryDate      string          `json:"expiry_date,omitempty"`
	MRZ             string          `json:"mrz,omitempty"`
	Copy            bool            `json:"copy,omitempty"`
	MRZResult       json.RawMessage `json:"mrz_result,omitempty"`
	Officer         string          `json:"officer,omitempty"`
	DecisionReasons string          `json:"decision_reasons,omitempty"`
	SubmittedAt     time.Time       `json:"submitted_at"`
	DecidedAt       *time.Time      `json:"decided_at,omitempty"`
}

// IdentityCheckList is one page of the officers' queue. Next, when set, is
// the "after" value of the following page.
type IdentityCheckList struct {
	Checks []*IdentityCheckResponse `json:"checks"`
	Next   string                   `json:"next,omitempty"`
}

// DecisionRequest is the body of POST /api/v1/identity-checks/{id}/decision.
type DecisionRequest struct {
	Decision string `json:"decision"` // approve or reject
	Reasons  string `json:"reasons"`
}

// WebhookResponse acknowledges a payment webhook. Ignored is set for event
// types Selo does not act on.
type WebhookResponse struct {
	Received    bool   `json:"received"`
	Ignored     bool   `json:"ignored,omitempty"`
	OrderNumber string `json:"order_number,omitempty"`
	State       string `json:"state,omitempty"`
}

const dateLayout = "2006-01-02"

// parseDate reads a YYYY-MM-DD field; "" is the zero time.
func parseDate(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(dateLayout, v)
	if err != nil {
		return time.Time{}, selo.Errorf(selo.EINVALID, "field %q must be a date as YYYY-MM-DD, not %q", field, truncate(v, 16))
	}
	return t, nil
}

func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateLayout)
}

// decodeCreateOrder reads the body of POST /api/v1/orders. The service
// judges the values; this checks only what JSON cannot say (dates, sizes).
// It never panics, whatever body holds.
func decodeCreateOrder(body io.Reader) (registration.OrderRequest, error) {
	var req CreateOrderRequest
	if err := decodeJSON(body, &req); err != nil {
		return registration.OrderRequest{}, err
	}
	birth, err := parseDate("holder.birth_date", req.Holder.BirthDate)
	if err != nil {
		return registration.OrderRequest{}, err
	}
	switch {
	case req.Profile == "":
		return registration.OrderRequest{}, selo.Errorf(selo.EINVALID, `field "profile" is required`)
	case len(req.Profile) > maxNameLength || !utf8.ValidString(req.Profile):
		return registration.OrderRequest{}, selo.Errorf(selo.EINVALID, `field "profile" is not a profile name`)
	case req.Delivery == "":
		return registration.OrderRequest{}, selo.Errorf(selo.EINVALID, `field "delivery" is required: software, token or cloud`)
	case len(req.Subject.DNSNames) > 100:
		return registration.OrderRequest{}, selo.Errorf(selo.EINVALID, `field "subject.dns_names" holds more than 100 names`)
	}
	h, sub := req.Holder, req.Subject
	return registration.OrderRequest{
		Holder:   selo.Holder{GivenNames: h.GivenNames, Surname: h.Surname, Email: h.Email, Mobile: h.Mobile, BirthDate: birth, Language: h.Language},
		Profile:  req.Profile,
		Delivery: selo.Delivery(req.Delivery),
		Approval: selo.ApprovalType(req.Approval),
		Subject: selo.OrderSubject{CommonName: sub.CommonName, Country: sub.Country, Organization: sub.Organization,
			Locality: sub.Locality, State: sub.State, OrganizationIdentifier: sub.OrganizationIdentifier, SerialNumber: sub.SerialNumber, DNSNames: sub.DNSNames},
	}, nil
}

// decodeIdentityCheck reads the holder's identity check body and returns
// the access code apart from the submission. It never panics.
func decodeIdentityCheck(body io.Reader) (string, registration.IdentitySubmission, error) {
	var req IdentityCheckRequest
	if err := decodeJSON(body, &req); err != nil {
		return "", registration.IdentitySubmission{}, err
	}
	if strings.TrimSpace(req.AccessCode) == "" {
		// The same answer as a wrong code would be misleading: nothing was tried.
		return "", registration.IdentitySubmission{}, selo.Errorf(selo.EUNAUTHORIZED, `field "access_code" is required: the code e-mailed with the order`)
	}
	for _, f := range []struct{ name, v string }{
		{"document_type", req.DocumentType}, {"country", req.Country}, {"document_number", req.DocumentNumber},
	} {
		if strings.TrimSpace(f.v) == "" {
			return "", registration.IdentitySubmission{}, selo.Errorf(selo.EINVALID, "field %q is required", f.name)
		}
		if len(f.v) > maxDocumentFieldLength || !utf8.ValidString(f.v) {
			return "", registration.IdentitySubmission{}, selo.Errorf(selo.EINVALID, "field %q is longer than %d bytes", f.name, maxDocumentFieldLength)
		}
	}
	if len(req.MRZ) > maxMRZLength {
		return "", registration.IdentitySubmission{}, selo.Errorf(selo.EINVALID, "field %q is longer than %d bytes", "mrz", maxMRZLength)
	}
	if len(req.AccessCode) > maxDocumentFieldLength {
		return "", registration.IdentitySubmission{}, selo.Errorf(selo.EINVALID, "field %q is longer than %d bytes", "access_code", maxDocumentFieldLength)
	}
	if req.ExpiryDate == "" {
		return "", registration.IdentitySubmission{}, selo.Errorf(selo.EINVALID, `field "expiry_date" is required (YYYY-MM-DD)`)
	}
	expiry, err := parseDate("expiry_date", req.ExpiryDate)
	if err != nil {
		return "", registration.IdentitySubmission{}, err
	}
	return req.AccessCode, registration.IdentitySubmission{
		DocumentType: req.DocumentType, Country: req.Country, DocumentNumber: req.DocumentNumber,
		ExpiryDate: expiry, MRZ: req.MRZ, Copy: req.Copy,
	}, nil
}

// NewOrderResponse describes o as the order API does; the CLI prints the same.
func NewOrderResponse(o *selo.Order) *OrderResponse { return orderResponse(o) }

func orderResponse(o *selo.Order) *OrderResponse {
	out := &OrderResponse{
		ID: o.ID, Number: o.Number, State: string(o.State), Profile: o.Profile, Delivery: string(o.Delivery), Approval: string(o.Approval),
		Holder: HolderJSON{GivenNames: o.Holder.GivenNames, Surname: o.Holder.Surname, Email: o.Holder.Email,
			Mobile: o.Holder.Mobile, BirthDate: formatDate(o.Holder.BirthDate), Language: o.Holder.Language},
		Subject: OrderSubjectJSON{CommonName: o.Subject.CommonName, Country: o.Subject.Country, Organization: o.Subject.Organization,
			Locality: o.Subject.Locality, State: o.Subject.State, OrganizationIdentifier: o.Subject.OrganizationIdentifier, SerialNumber: o.Subject.SerialNumber, DNSNames: o.Subject.DNSNames},
		IdentityStatus: string(o.IdentityStatus), IdentityAttempts: o.IdentityAttempts,
		CertificateSerial: o.CertificateSerial, CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt.UTC(), UpdatedAt: o.UpdatedAt.UTC(),
	}
	if o.Paid() {
		out.Payment = &PaymentJSON{PaidAt: o.PaidAt.UTC(), Reference: o.PaymentReference, AmountCents: o.PaymentAmountCents, Currency: o.PaymentCurrency}
	}
	if !o.ReadyNotifiedAt.IsZero() {
		t := o.ReadyNotifiedAt.UTC()
		out.ReadyNotifiedAt = &t
	}
	return out
}

// orderNumber returns the {number} path value, refusing what cannot be one
// with the same not-found answer an unknown number gets.
func orderNumber(r *http.Request) (string, error) {
	n := r.PathValue("number")
	if n == "" || len(n) > maxOrderNumberLength || !utf8.ValidString(n) {
		return "", selo.Errorf(selo.ENOTFOUND, "no order numbered %q", truncate(n, maxOrderNumberLength))
	}
	return n, nil
}

// handleCreateOrder serves POST /api/v1/orders.
func (s *Server) handleCreateOrder(w http.ResponseWriter, r *http.Request) {
	if err := s.limitJSONBody(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	req, err := decodeCreateOrder(r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	created, err := s.registration.CreateOrder(r.Context(), actorFrom(r.Context()), req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/orders/"+url.PathEscape(created.Order.Number))
	writeJSON(w, http.StatusCreated, CreateOrderResponse{Order: orderResponse(created.Order), AccessCode: created.AccessCode})
}

// pageQuery reads the limit and after parameters of a paged list.
func pageQuery(r *http.Request) (limit int, after string, err error) {
	q := r.URL.Query()
	limit = DefaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPageSize {
			return 0, "", selo.Errorf(selo.EINVALID, "limit must be a whole number from 1 to %d, not %q", MaxPageSize, truncate(v, 16))
		}
		limit = n
	}
	after = q.Get("after")
	if len(after) > maxNameLength || !utf8.ValidString(after) {
		return 0, "", selo.Errorf(selo.EINVALID, `after must be the "next" value of the previous page`)
	}
	return limit, after, nil
}

// handleListOrders serves GET /api/v1/orders?state=&limit=&after=, one page
// in ID (creation) order, keyed by the last ID like the certificate list.
func (s *Server) handleListOrders(w http.ResponseWriter, r *http.Request) {
	limit, after, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	filter := selo.OrderFilter{AfterID: after, Limit: limit + 1}
	if v := r.URL.Query().Get("state"); v != "" {
		st := selo.OrderState(v)
		if !st.Valid() {
			names := make([]string, len(selo.OrderStates))
			for i, v := range selo.OrderStates {
				names[i] = string(v)
			}
			s.writeError(w, r, selo.Errorf(selo.EINVALID, "state must be one of %s, not %q", strings.Join(names, ", "), truncate(v, 32)))
			return
		}
		filter.State = st
	}
	orders, err := s.registration.ListOrders(r.Context(), filter)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := OrderList{Orders: make([]*OrderResponse, 0, min(len(orders), limit))}
	for i, o := range orders {
		if i == limit {
			out.Next = orders[i-1].ID
			break
		}
		out.Orders = append(out.Orders, orderResponse(o))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetOrder serves GET /api/v1/orders/{number}.
func (s *Server) handleGetOrder(w http.ResponseWriter, r *http.Request) {
	number, err := orderNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.registration.FindOrder(r.Context(), number)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderResponse(o))
}

// handleOrderEvents serves GET /api/v1/orders/{number}/events, oldest first.
func (s *Server) handleOrderEvents(w http.ResponseWriter, r *http.Request) {
	number, err := orderNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := s.registration.OrderHistory(r.Context(), number)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := OrderEventList{Number: number, Events: make([]*OrderEventJSON, 0, len(events))}
	for _, e := range events {
		out.Events = append(out.Events, &OrderEventJSON{From: string(e.From), To: string(e.To), Actor: e.Actor, Reason: e.Reason, Time: e.Time.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleRecordPayment serves POST /api/v1/orders/{number}/payment.
func (s *Server) handleRecordPayment(w http.ResponseWriter, r *http.Request) {
	number, err := orderNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req RecordPaymentRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.registration.RecordPayment(r.Context(), actorFrom(r.Context()), number,
		registration.Payment{Reference: req.Reference, AmountCents: req.AmountCents, Currency: req.Currency})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderResponse(o))
}

// handleRenewLiftCode serves POST /api/v1/orders/{number}/lift-code: the
// officer has the holder e-mailed a new lift code (the old one stops working).
func (s *Server) handleRenewLiftCode(w http.ResponseWriter, r *http.Request) {
	number, err := orderNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o, err := s.registration.RenewLiftCode(r.Context(), actorFrom(r.Context()), number)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderResponse(o))
}

// handleCancelOrder serves POST /api/v1/orders/{number}/cancel.
func (s *Server) handleCancelOrder(w http.ResponseWriter, r *http.Request) {
	number, err := orderNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req CancelOrderRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if len(req.Reason) > maxDecisionReasonLength {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "reason" is longer than %d bytes`, maxDecisionReasonLength))
		return
	}
	o, err := s.registration.CancelOrder(r.Context(), actorFrom(r.Context()), number, req.Reason, req.Reject)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderResponse(o))
}

// handleSubmitIdentityCheck serves the holder's POST
// /api/v1/orders/{number}/identity-check. A machine refusal is an answer,
// not an error: 200 with status "refused" and the reason, so the holder can
// correct the submission and try again.
func (s *Server) handleSubmitIdentityCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if err := s.limitJSONBody(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	code, sub, err := decodeIdentityCheck(r.Body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	number := r.PathValue("number")
	if ri := infoFrom(r.Context()); ri != nil {
		ri.Actor = "holder:" + truncate(number, maxOrderNumberLength)
	}
	c, err := s.registration.SubmitIdentityCheck(r.Context(), number, code, sub)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, &IdentityCheckResponse{
		ID: c.ID, OrderNumber: number, Status: string(c.Status), MachineReason: c.MachineReason,
		Pending: c.Pending, SubmittedAt: c.SubmittedAt.UTC(),
	})
}

// handleIdentityQueue serves GET /api/v1/identity-checks?limit=&after=: the
// officers' queue of checks the machine passed, oldest first.
func (s *Server) handleIdentityQueue(w http.ResponseWriter, r *http.Request) {
	limit, after, err := pageQuery(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	checks, err := s.registration.ListPendingIdentityChecks(r.Context(), after, limit+1)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := IdentityCheckList{Checks: make([]*IdentityCheckResponse, 0, min(len(checks), limit))}
	for i, c := range checks {
		if i == limit {
			out.Next = checks[i-1].ID
			break
		}
		// The officer compares the document with the holder the order is for.
		o, err := s.registration.FindOrderByID(r.Context(), c.OrderID)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		out.Checks = append(out.Checks, officerCheckResponse(c, o))
	}
	writeJSON(w, http.StatusOK, out)
}

// NewOfficerCheckResponse describes an identity check of order o as the
// officers' queue shows it; the CLI prints the same.
func NewOfficerCheckResponse(c *selo.IdentityCheck, o *selo.Order) *IdentityCheckResponse {
	return officerCheckResponse(c, o)
}

func officerCheckResponse(c *selo.IdentityCheck, o *selo.Order) *IdentityCheckResponse {
	out := &IdentityCheckResponse{
		ID: c.ID, OrderNumber: o.Number, Status: string(c.Status), MachineReason: c.MachineReason, Pending: c.Pending,
		Holder: &HolderJSON{GivenNames: o.Holder.GivenNames, Surname: o.Holder.Surname, Email: o.Holder.Email,
			Mobile: o.Holder.Mobile, BirthDate: formatDate(o.Holder.BirthDate)},
		DocumentType: c.DocumentType, Country: c.Country, DocumentNumber: c.DocumentNumber, ExpiryDate: formatDate(c.DocumentExpiry),
		MRZ: c.MRZ, Copy: c.Copy, Officer: c.Officer, DecisionReasons: c.DecisionReasons, SubmittedAt: c.SubmittedAt.UTC(),
	}
	if c.MRZResult != "" {
		out.MRZResult = json.RawMessage(c.MRZResult)
	}
	if !c.DecidedAt.IsZero() {
		t := c.DecidedAt.UTC()
		out.DecidedAt = &t
	}
	return out
}

// handleDecideIdentityCheck serves POST /api/v1/identity-checks/{id}/decision.
// The officer is the API key's name, as the audit log records it.
func (s *Server) handleDecideIdentityCheck(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if len(id) > maxNameLength || !utf8.ValidString(id) {
		s.writeError(w, r, selo.Errorf(selo.ENOTFOUND, "no identity check %q", truncate(id, maxNameLength)))
		return
	}
	var req DecisionRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	var approve bool
	switch req.Decision {
	case "approve":
		approve = true
	case "reject":
	default:
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "decision" must be "approve" or "reject", not %q`, truncate(req.Decision, 16)))
		return
	}
	if len(req.Reasons) > maxDecisionReasonLength {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, `field "reasons" is longer than %d bytes`, maxDecisionReasonLength))
		return
	}
	o, err := s.registration.DecideIdentityCheck(r.Context(), actorFrom(r.Context()), id, approve, req.Reasons)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, orderResponse(o))
}

// handlePaymentWebhook serves POST /api/v1/payments/webhook: the raw body,
// at most registration.MaxWebhookBody bytes, and its signature go to the
// service, which checks the HMAC and the timestamp and refuses a replayed
// event ID (409).
func (s *Server) handlePaymentWebhook(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(WebhookSignatureHeader) == "" {
		s.writeError(w, r, selo.Errorf(selo.EUNAUTHORIZED, "the %s header is required", WebhookSignatureHeader))
		return
	}
	if r.ContentLength > registration.MaxWebhookBody {
		s.writeError(w, r, selo.Errorf(selo.ETOOLARGE, "the webhook body is larger than %d bytes", registration.MaxWebhookBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, registration.MaxWebhookBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			err = selo.Errorf(selo.ETOOLARGE, "the webhook body is larger than %d bytes", registration.MaxWebhookBody)
		}
		s.writeError(w, r, err)
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		s.writeError(w, r, selo.Errorf(selo.EINVALID, "the webhook body is empty; it must be the event's JSON object"))
		return
	}
	if ri := infoFrom(r.Context()); ri != nil {
		ri.Actor = "webhook:payment"
	}
	o, err := s.registration.HandlePaymentWebhook(r.Context(), body, r.Header.Get(WebhookSignatureHeader))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if o == nil {
		writeJSON(w, http.StatusOK, WebhookResponse{Received: true, Ignored: true})
		return
	}
	writeJSON(w, http.StatusOK, WebhookResponse{Received: true, OrderNumber: o.Number, State: string(o.State)})
}

// TokenCSRRequest is the body of POST /api/v1/orders/{number}/token-csr.
type TokenCSRRequest struct {
	// CSR is the PKCS#10 request the holder's token made, in PEM.
	CSR string `json:"csr"`
}

// handleTokenCSR serves POST /api/v1/orders/{number}/token-csr: an officer
// completes a token order with its CSR; the answer is the certificate and
// its chain, and the first time the revocation code to hand to the holder.
func (s *Server) handleTokenCSR(w http.ResponseWriter, r *http.Request) {
	number, err := orderNumber(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var req TokenCSRRequest
	if err := s.readJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	cert, code, err := s.registration.IssueTokenOrderWithCode(r.Context(), actorFrom(r.Context()), number, []byte(req.CSR))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	chain, err := s.authority.Chain(r.Context(), cert.CAID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.answerLiftCertificate(w, r, cert, chain, code)
}
