package main

import (
	"encoding/pem"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo"
	"github.com/selo-qtsp/selo/registration"
	"github.com/selo-qtsp/selo/server"
)

const orderLong = `Order manages the registration desk's certificate orders, as a registration
officer does: create an order for a holder, follow it through its states,
record a payment, work through the queue of identity checks, cancel or refuse.

An order moves through
  created → identity_validated → paid → ready → email_verified → key_ready → issued → delivered
and can be cancelled or rejected before it is issued. The holder gets an access
code by e-mail when the order is created (for the remote identity check) and
an order number with a lift code when it is validated and paid ("ready").

These commands work directly on the data directory; the same operations are
in the REST API under /api/v1/orders (see docs/orders.md).`

func (c *cli) orderCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "order",
		Short: "Manage certificate orders, payments and identity checks (registration desk)",
		Long:  orderLong,
		Example: `  selo order create --given-names "Ana Maria" --surname Silva --email ana@example.pt \
      --mobile +351912345678 --profile qualified-sign --delivery token --country PT
  selo order checks
  selo order decide 01a2... --approve --reason "document and photo match"
  selo order pay SO-2026-K7Q2M9XD --reference TPA-0042 --amount 49.90 --currency EUR
  selo order show SO-2026-K7Q2M9XD`,
	}
	cmd.AddCommand(c.orderCreateCommand(), c.orderListCommand(), c.orderShowCommand(), c.orderHistoryCommand(),
		c.orderPayCommand(), c.orderLiftCodeCommand(), c.orderCancelCommand(), c.orderChecksCommand(), c.orderDecideCommand(), c.orderWebhookSecretCommand(),
		c.orderIssueTokenCommand())
	return cmd
}

func (c *cli) orderCreateCommand() *cobra.Command {
	var req registration.OrderRequest
	var birthDate, delivery string
	cmd := &cobra.Command{
		Use:   "create --given-names G --surname S --email E --mobile +... --profile P --delivery software|token|cloud [subject flags]",
		Short: "Create an order; prints the order number and the holder's access code (shown once, also e-mailed)",
		Long: `Create an order for a holder. Selo checks the holder's data and that the
profile accepts the subject, stores the order in state "created" and e-mails
the holder the access code for the remote identity check. The access code is
printed here once; Selo keeps only a keyed hash of it.

Seals (qualified-seal) need --org, --org-id and --country; tls-server needs
--dns. The e-mail goes to the SMTP server in SELO_SMTP_ADDR, or to the local
outbox ('selo outbox').`,
		Example: `  selo order create --given-names "Ana Maria" --surname Silva --email ana@example.pt \
      --mobile +351912345678 --profile qualified-sign --delivery token --country PT
  selo order create --given-names Rui --surname Costa --email faturas@exemplo.pt --mobile +351931234567 \
      --profile qualified-seal --delivery cloud --approval authorizer --org "Exemplo Lda" --org-id VATPT-500000000 --country PT --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if req.Holder.GivenNames == "" || req.Holder.Surname == "" || req.Holder.Email == "" || req.Holder.Mobile == "" ||
				req.Profile == "" || delivery == "" {
				return usagef("order create needs --given-names, --surname, --email, --mobile, --profile and --delivery")
			}
			if birthDate != "" {
				t, err := time.Parse("2006-01-02", birthDate)
				if err != nil {
					return usagef("--birth-date must be YYYY-MM-DD, not %q", birthDate)
				}
				req.Holder.BirthDate = t
			}
			req.Delivery = selo.Delivery(delivery)
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			created, err := svc.CreateOrder(cmd.Context(), actor(), req)
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(server.CreateOrderResponse{Order: server.NewOrderResponse(created.Order), AccessCode: created.AccessCode})
			}
			fmt.Fprintf(c.stdout, "order %s created for %s %s <%s>\naccess code: %s\n", created.Order.Number,
				created.Order.Holder.GivenNames, created.Order.Holder.Surname, created.Order.Holder.Email, created.AccessCode)
			fmt.Fprintln(c.stderr, "The access code was e-mailed to the holder and is not shown again.")
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Holder.GivenNames, "given-names", "", "the holder's given names")
	f.StringVar(&req.Holder.Surname, "surname", "", "the holder's surname")
	f.StringVar(&req.Holder.Email, "email", "", "the holder's e-mail (codes are sent there)")
	f.StringVar(&req.Holder.Mobile, "mobile", "", "the holder's mobile number in E.164 form, e.g. +351912345678")
	f.StringVar(&req.Holder.Language, "language", "", "language of the holder's e-mails: pt or en (default: Portuguese then English for a +351 mobile, else English)")
	f.StringVar(&birthDate, "birth-date", "", "the holder's birth date, YYYY-MM-DD (optional)")
	f.StringVar(&req.Profile, "profile", "", "certificate profile, e.g. qualified-sign, qualified-seal, advanced-invoice, tls-server")
	f.StringVar(&delivery, "delivery", "", "where the key lives: software (.pfx), token (the holder's device) or cloud (Selo's key store)")
	f.StringVar((*string)(&req.Approval), "approval", "", "cloud delivery: how signatures are approved, sms, authenticator, wallet or authorizer (e-seals)")
	f.StringVar(&req.Subject.CommonName, "cn", "", "subject common name (default: from the holder or the organisation)")
	f.StringVar(&req.Subject.Country, "country", "", "subject country, two letters")
	f.StringVar(&req.Subject.Organization, "org", "", "organisation (seals, tls-server-ov)")
	f.StringVar(&req.Subject.Locality, "locality", "", "the organisation's locality (tls-server-ov: this or --state)")
	f.StringVar(&req.Subject.State, "state", "", "the organisation's state or province (tls-server-ov)")
	f.StringVar(&req.Subject.OrganizationIdentifier, "org-id", "", "organizationIdentifier (seals), e.g. VATPT-500000000")
	f.StringVar(&req.Subject.SerialNumber, "serial-number", "", "natural person identifier, e.g. IDCPT-12345678")
	f.StringSliceVar(&req.Subject.DNSNames, "dns", nil, "DNS name (tls-server; repeatable)")
	return cmd
}

func (c *cli) orderListCommand() *cobra.Command {
	var state, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--state STATE] [--limit N] [--after ID]",
		Short: "List orders, oldest first, optionally of one state",
		Example: `  selo order list --state paid
  selo order list --limit 50 --after 01a2...   # the next page: --after the last ID shown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			filter := selo.OrderFilter{State: selo.OrderState(state), AfterID: after, Limit: limit}
			if state != "" && !filter.State.Valid() {
				return usagef("--state must be one of %s", orderStateNames())
			}
			if limit < 0 {
				return usagef("--limit must be 0 (no limit) or more")
			}
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			orders, err := svc.ListOrders(cmd.Context(), filter)
			if err != nil {
				return err
			}
			if c.jsonOut {
				out := make([]*server.OrderResponse, 0, len(orders))
				for _, o := range orders {
					out = append(out, server.NewOrderResponse(o))
				}
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NUMBER\tSTATE\tPROFILE\tDELIVERY\tHOLDER\tPAID\tCREATED\tID")
			for _, o := range orders {
				paid := "-"
				if o.Paid() {
					paid = formatAmount(o.PaymentAmountCents) + " " + o.PaymentCurrency
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", o.Number, o.State, o.Profile, o.Delivery,
					o.Holder.GivenNames, o.Holder.Surname, paid, o.CreatedAt.UTC().Format("2006-01-02 15:04"), o.ID)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&state, "state", "", "only orders in this state: "+orderStateNames())
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many orders (0: all)")
	cmd.Flags().StringVar(&after, "after", "", "start after the order with this ID (paging)")
	return cmd
}

func orderStateNames() string {
	names := make([]string, len(selo.OrderStates))
	for i, s := range selo.OrderStates {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func (c *cli) orderShowCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "show NUMBER",
		Short:   "Show an order: state, holder, subject, identity check status and payment",
		Example: `  selo order show SO-2026-K7Q2M9XD`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			o, err := svc.FindOrder(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(server.NewOrderResponse(o))
			}
			c.printOrder(o)
			return nil
		},
	}
}

func (c *cli) printOrder(o *selo.Order) {
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("Order", o.Number)
	row("ID", o.ID)
	row("State", string(o.State))
	row("Profile", o.Profile)
	row("Delivery", string(o.Delivery))
	row("Holder", fmt.Sprintf("%s %s <%s> %s", o.Holder.GivenNames, o.Holder.Surname, o.Holder.Email, o.Holder.Mobile))
	row("Language", o.Holder.Language)
	if !o.Holder.BirthDate.IsZero() {
		row("Birth date", o.Holder.BirthDate.Format("2006-01-02"))
	}
	s := o.Subject
	row("Common name", s.CommonName)
	row("Country", s.Country)
	row("Organisation", strings.TrimSpace(s.Organization+" "+s.OrganizationIdentifier))
	row("Serial number", s.SerialNumber)
	row("DNS names", strings.Join(s.DNSNames, ", "))
	if o.IdentityStatus != "" {
		row("Identity check", fmt.Sprintf("%s (%d attempts)", o.IdentityStatus, o.IdentityAttempts))
	}
	if o.Paid() {
		row("Payment", fmt.Sprintf("%s %s, reference %s, %s", formatAmount(o.PaymentAmountCents), o.PaymentCurrency,
			o.PaymentReference, o.PaidAt.UTC().Format(time.RFC3339)))
	}
	if !o.ReadyNotifiedAt.IsZero() {
		row("Ready e-mail", o.ReadyNotifiedAt.UTC().Format(time.RFC3339))
	}
	row("Certificate", o.CertificateSerial)
	row("Created", o.CreatedAt.UTC().Format(time.RFC3339)+" by "+o.CreatedBy)
	_ = tw.Flush()
}

func (c *cli) orderHistoryCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "history NUMBER",
		Short:   "Show an order's transitions, oldest first, with who made them and why",
		Example: `  selo order history SO-2026-K7Q2M9XD`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			events, err := svc.OrderHistory(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if c.jsonOut {
				out := server.OrderEventList{Number: strings.TrimSpace(args[0]), Events: make([]*server.OrderEventJSON, 0, len(events))}
				for _, e := range events {
					out.Events = append(out.Events, &server.OrderEventJSON{From: string(e.From), To: string(e.To), Actor: e.Actor, Reason: e.Reason, Time: e.Time.UTC()})
				}
				return c.printJSON(out)
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "TIME\tFROM\tTO\tACTOR\tREASON")
			for _, e := range events {
				from := string(e.From)
				if from == "" {
					from = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), from, e.To, e.Actor, e.Reason)
			}
			return tw.Flush()
		},
	}
}

// parseAmount reads a decimal amount such as "49.90" as cents.
func parseAmount(s string) (int64, error) {
	whole, frac, hasFrac := strings.Cut(strings.TrimSpace(s), ".")
	if whole == "" || len(frac) > 2 || hasFrac && frac == "" {
		return 0, usagef("--amount must be a positive amount such as 49.90, not %q", s)
	}
	for len(frac) < 2 {
		frac += "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, usagef("--amount must be a positive amount such as 49.90, not %q", s)
		}
	}
	cents, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || cents <= 0 {
		return 0, usagef("--amount must be a positive amount such as 49.90, not %q", s)
	}
	return cents, nil
}

func formatAmount(cents int64) string {
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

func (c *cli) orderPayCommand() *cobra.Command {
	var reference, amount, currency string
	cmd := &cobra.Command{
		Use:   "pay NUMBER --reference REF --amount 49.90 [--currency EUR]",
		Short: "Record a payment an officer saw (bank transfer, card terminal)",
		Long: `Record a payment on an order. The payment is kept whenever it arrives; when
the holder's identity is already validated the order moves to "paid" and
then "ready", and the holder is e-mailed the order number and the lift code.
Recording the same reference again changes nothing; a second, different
payment is refused. Payment providers use the signed webhook instead (see
'selo order webhook-secret').`,
		Example: `  selo order pay SO-2026-K7Q2M9XD --reference TPA-0042 --amount 49.90
  selo order pay SO-2026-K7Q2M9XD --reference "MB 123 456 789" --amount 60 --currency EUR --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reference == "" || amount == "" {
				return usagef("order pay needs --reference and --amount")
			}
			cents, err := parseAmount(amount)
			if err != nil {
				return err
			}
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			o, err := svc.RecordPayment(cmd.Context(), actor(), args[0], registration.Payment{Reference: reference, AmountCents: cents, Currency: currency})
			if err != nil {
				return err
			}
			return c.printOrderResult(o, "payment recorded")
		},
	}
	cmd.Flags().StringVar(&reference, "reference", "", "the payment's reference (bank or terminal)")
	cmd.Flags().StringVar(&amount, "amount", "", "the amount paid, e.g. 49.90")
	cmd.Flags().StringVar(&currency, "currency", "EUR", "ISO 4217 currency code")
	return cmd
}

// printOrderResult prints an order after a change: JSON, or one line.
func (c *cli) printOrderResult(o *selo.Order, what string) error {
	if c.jsonOut {
		return c.printJSON(server.NewOrderResponse(o))
	}
	fmt.Fprintf(c.stdout, "%s: order %s is %s\n", what, o.Number, o.State)
	return nil
}

func (c *cli) orderLiftCodeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lift-code NUMBER",
		Short: "E-mail the holder a new lift code (the one before stops working)",
		Long: `Lift-code replaces the "ready to lift" code of an order between ready and
issued and e-mails the new one to the holder's address on the order: for a
holder whose code was blocked by wrong tries and who has lost the renewal
code of the "ready" e-mail. The order stays where it is; audited as
order.lift_code.renew. At most one code every 30 seconds and 5 an hour per
order, counted with the holder's own requests.`,
		Example: `  selo order lift-code SO-2026-K7Q2M9XD`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			o, err := svc.RenewLiftCode(cmd.Context(), actor(), args[0])
			if err != nil {
				return err
			}
			return c.printOrderResult(o, "new lift code e-mailed")
		},
	}
}

func (c *cli) orderCancelCommand() *cobra.Command {
	var reason string
	var reject bool
	cmd := &cobra.Command{
		Use:   "cancel NUMBER --reason TEXT [--reject]",
		Short: "Cancel an order (or with --reject, refuse it) before its certificate is issued",
		Example: `  selo order cancel SO-2026-K7Q2M9XD --reason "the holder asked to cancel"
  selo order cancel SO-2026-K7Q2M9XD --reject --reason "the identity document is forged"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usagef("order cancel needs --reason: it goes to the order's history and the audit log")
			}
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			o, err := svc.CancelOrder(cmd.Context(), actor(), args[0], reason, reject)
			if err != nil {
				return err
			}
			return c.printOrderResult(o, string(o.State))
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (recorded in the history and the audit log)")
	cmd.Flags().BoolVar(&reject, "reject", false, "refuse the order (state rejected) instead of cancelling it")
	return cmd
}

func (c *cli) orderChecksCommand() *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:   "checks [--limit N] [--after ID]",
		Short: "The officers' queue: identity checks the machine passed, waiting for a decision",
		Long: `Checks lists the identity checks that passed the machine checks (MRZ check
digits, accepted documents, expiry, copies) and wait for an officer to judge
what a machine cannot: the photo, the live video. Compare the document with
the holder shown, then record a decision with 'selo order decide'.`,
		Example: `  selo order checks
  selo order checks --json | jq '.[0]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 1 || limit > server.MaxPageSize {
				return usagef("--limit must be from 1 to %d", server.MaxPageSize)
			}
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			checks, err := svc.ListPendingIdentityChecks(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			out := make([]*server.IdentityCheckResponse, 0, len(checks))
			for _, ch := range checks {
				o, err := c.store.FindOrder(cmd.Context(), ch.OrderID)
				if err != nil {
					return err
				}
				out = append(out, server.NewOfficerCheckResponse(ch, o))
			}
			if c.jsonOut {
				return c.printJSON(out)
			}
			if len(out) == 0 {
				fmt.Fprintln(c.stdout, "no identity checks waiting")
				return nil
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CHECK\tORDER\tHOLDER\tDOCUMENT\tNUMBER\tEXPIRES\tTO JUDGE\tSUBMITTED")
			for _, ch := range out {
				fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s %s\t%s\t%s\t%s\t%s\n", ch.ID, ch.OrderNumber, ch.Holder.GivenNames, ch.Holder.Surname,
					ch.Country, ch.DocumentType, ch.DocumentNumber, ch.ExpiryDate, strings.Join(ch.Pending, ","), ch.SubmittedAt.Format("2006-01-02 15:04"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().IntVar(&limit, "limit", server.DefaultPageSize, "at most this many checks")
	cmd.Flags().StringVar(&after, "after", "", "start after the check with this ID (paging)")
	return cmd
}

func (c *cli) orderDecideCommand() *cobra.Command {
	var approve, reject bool
	var reason string
	cmd := &cobra.Command{
		Use:   "decide CHECK (--approve | --reject) --reason TEXT",
		Short: "Record an officer's decision on an identity check from the queue",
		Long: `Decide approves or rejects a pending identity check, with the reasons, which
go to the check, the order's history and the audit log under your name.
Approval validates the order's identity; when its payment is already
recorded the order goes on to "ready" and the holder gets the lift code.
A rejection lets the holder submit another document, within the attempts
allowed.`,
		Example: `  selo order decide 01a2... --approve --reason "document and photo match the holder"
  selo order decide 01a2... --reject --reason "the photo is too blurred to compare"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if approve == reject {
				return usagef("order decide needs exactly one of --approve and --reject")
			}
			if strings.TrimSpace(reason) == "" {
				return usagef("order decide needs --reason")
			}
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			o, err := svc.DecideIdentityCheck(cmd.Context(), actor(), args[0], approve, reason)
			if err != nil {
				return err
			}
			what := "identity approved"
			if reject {
				what = "identity rejected"
			}
			return c.printOrderResult(o, what)
		},
	}
	cmd.Flags().BoolVar(&approve, "approve", false, "approve the check")
	cmd.Flags().BoolVar(&reject, "reject", false, "reject the check (the holder may submit again)")
	cmd.Flags().StringVar(&reason, "reason", "", "the reasons for the decision")
	return cmd
}

func (c *cli) orderWebhookSecretCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "webhook-secret",
		Short: "Print the payment webhook's signing secret, for the payment provider's settings",
		Long: `Webhook-secret prints the secret the payment provider signs its webhooks with
(HMAC-SHA256; see docs/orders.md for the header and how the signature is
computed). Selo derives it from the master key, so every replica agrees on it
and it changes only with the master key. Paste it into the provider's
settings, with the endpoint https://YOUR-HOST/api/v1/payments/webhook.
Treat it as a password: whoever holds it can mark orders paid.`,
		Example: `  selo order webhook-secret`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := c.open(cmd.Context()); err != nil {
				return err
			}
			_, secret, err := c.registrationKeys()
			if err != nil {
				return err
			}
			if c.jsonOut {
				return c.printJSON(map[string]string{"webhook_secret": webhookSecretText(secret),
					"signature_header": server.WebhookSignatureHeader, "path": "/api/v1/payments/webhook"})
			}
			fmt.Fprintln(c.stdout, webhookSecretText(secret))
			return nil
		},
	}
}

func (c *cli) orderIssueTokenCommand() *cobra.Command {
	var csrFile, out string
	cmd := &cobra.Command{
		Use:   "issue-token NUMBER --csr FILE [--out FILE]",
		Short: "Complete a token order with the CSR the holder's token made",
		Long: `Complete a token order: the holder's token (a QSCD) made the key and a CSR,
which the holder hands to the officer. The order must be validated and paid
(ready). The CSR's signature proves possession; its key must never have been
certified by Selo and must fit the profile's key policy. The certificate gets
the order's validated subject (not the CSR's), QcSSCD and the -qscd policy
where the profile states them. The first run also prints the certificate's
revocation code, once: hand it to the holder, apart from the token; it
revokes the certificate without the token if the token is lost. Running it
again with the same CSR prints the same certificate (and no code); another
key is refused. Audited.`,
		Example: `  selo order issue-token SO-2026-K7Q2M9XD --csr token.csr --out token.crt`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if csrFile == "" {
				return usagef("order issue-token needs --csr FILE")
			}
			csr, err := os.ReadFile(csrFile)
			if err != nil {
				return err
			}
			svc, err := c.registration(cmd.Context())
			if err != nil {
				return err
			}
			cert, code, err := svc.IssueTokenOrderWithCode(cmd.Context(), actor(), args[0], csr)
			if err != nil {
				return err
			}
			if out != "" {
				if err := os.WriteFile(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.DER}), 0o644); err != nil {
					return err
				}
			}
			if c.jsonOut {
				out := map[string]any{"order": args[0], "serial": cert.Serial, "ca": cert.CAID, "subject": cert.Subject,
					"not_after": cert.NotAfter}
				if code != "" {
					out["revocation_code"] = code
				}
				return c.printJSON(out)
			}
			fmt.Fprintf(c.stdout, "order %s: certificate %s issued to %s (valid until %s)\n", args[0], cert.Serial, cert.Subject,
				cert.NotAfter.UTC().Format("2006-01-02"))
			if code != "" {
				fmt.Fprintf(c.stdout, "Revocation code (shown only now; hand it to the holder, apart from the token): %s\n"+
					"It revokes certificate %s if the token is lost: selo lift revoke, or POST /api/v1/holder/revoke-with-code.\n", code, cert.Serial)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&csrFile, "csr", "", "the token's PKCS#10 request (PEM or DER)")
	cmd.Flags().StringVar(&out, "out", "", "also write the certificate here (PEM)")
	return cmd
}
