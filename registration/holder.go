package registration

import (
	"context"
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
