package registration

import (
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/selo-qtsp/selo"
)

// MaxHolderOrders bounds the orders HolderOrders returns.
const MaxHolderOrders = 100

// HolderOrders returns the orders of the holder with this e-mail (the
// signed-in account's, for the holder portal), newest first, at most
// MaxHolderOrders. The caller has authenticated the holder.
func (s *Service) HolderOrders(ctx context.Context, email string) ([]*selo.Order, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if email == "" {
		return nil, nil
	}
	os, err := s.store.ListOrdersByHolderEmail(ctx, email, MaxHolderOrders)
	if err != nil {
		return nil, err
	}
	out := os[:0]
	for _, o := range os {
		if strings.EqualFold(o.Holder.Email, email) { // never another holder's, whatever the store answers
			out = append(out, o)
		}
	}
	return out, nil
}

// HolderCertificate is the certificate one of the holder's orders delivered,
// as the holder portal lists and serves it.
type HolderCertificate struct {
	Order *selo.Order
	// Certificate is the order's certificate as it stands now: after a
	// re-issue under a new CA, the certificate that replaced it.
	Certificate *selo.Certificate
	Parsed      *x509.Certificate
	Chain       []*x509.Certificate // the issuing CA's certificate up to the root
}

// maxReissues bounds how many re-issues HolderOrderCertificate follows.
const maxReissues = 16

// HolderCertificates returns the certificates of the holder's delivered
// token and software orders, newest order first: the certificates whose key
// the holder keeps (a cloud certificate is the holder's credential, which the
// signing service lists). The caller has authenticated the holder.
func (s *Service) HolderCertificates(ctx context.Context, email string) ([]*HolderCertificate, error) {
	os, err := s.HolderOrders(ctx, email)
	if err != nil {
		return nil, err
	}
	var out []*HolderCertificate
	for _, o := range os {
		if o.Delivery == selo.DeliveryCloud || o.CertificateSerial == "" {
			continue
		}
		hc, err := s.orderCertificate(ctx, o)
		if err != nil {
			return nil, err
		}
		out = append(out, hc)
	}
	return out, nil
}

// HolderOrderCertificate returns the certificate of the holder's order id,
// or ENOTFOUND when the order is another holder's (the same answer as for
// an order that does not exist) or has no certificate yet.
func (s *Service) HolderOrderCertificate(ctx context.Context, email, id string) (*HolderCertificate, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	o, err := s.store.FindOrder(ctx, id)
	if err != nil {
		return nil, err
	}
	if email == "" || !strings.EqualFold(o.Holder.Email, email) || o.CertificateSerial == "" {
		return nil, selo.Errorf(selo.ENOTFOUND, "order %q not found", id)
	}
	return s.orderCertificate(ctx, o)
}

func (s *Service) orderCertificate(ctx context.Context, o *selo.Order) (*HolderCertificate, error) {
	c, err := s.auth.FindCertificate(ctx, o.CertificateSerial)
	if err != nil {
		return nil, fmt.Errorf("the certificate of order %s: %w", o.Number, err)
	}
	for i := 0; c.SupersededBy != "" && i < maxReissues; i++ {
		next, err := s.auth.FindCertificate(ctx, c.SupersededBy)
		if err != nil {
			return nil, fmt.Errorf("the certificate that replaced %s: %w", c.Serial, err)
		}
		c = next
	}
	parsed, err := x509.ParseCertificate(c.DER)
	if err != nil {
		return nil, fmt.Errorf("the certificate %s: %w", c.Serial, err)
	}
	chain, err := s.auth.Chain(ctx, c.CAID)
	if err != nil {
		return nil, err
	}
	return &HolderCertificate{Order: o, Certificate: c, Parsed: parsed, Chain: chain}, nil
}
