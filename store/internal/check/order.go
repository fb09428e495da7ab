package check

import (
	"github.com/selo-qtsp/selo"
)

// Order validates a new order and sets an empty State to created.
func Order(o *selo.Order) error {
	switch {
	case o == nil:
		return selo.Errorf(selo.EINVALID, "no order given")
	case o.ID == "" || o.Number == "":
		return selo.Errorf(selo.EINVALID, "an order needs an ID and a number")
	case o.Profile == "":
		return selo.Errorf(selo.EINVALID, "order %s has no profile", o.Number)
	case !o.Delivery.Valid():
		return selo.Errorf(selo.EINVALID, "order %s: unknown delivery %q", o.Number, o.Delivery)
	case o.Approval != "" && !o.Approval.Valid():
		return selo.Errorf(selo.EINVALID, "order %s: unknown approval type %q", o.Number, o.Approval)
	}
	if o.State == "" {
		o.State = selo.OrderCreated
	}
	if o.State != selo.OrderCreated {
		return selo.Errorf(selo.EINVALID, "a new order is created, not %s", o.State)
	}
	return nil
}

// OrderUpdate validates u: an order that was read (Version > 0), transitions
// that chain from one another and that the state machine allows, the last
// one ending in the order's new state, and an audit entry.
func OrderUpdate(u *selo.OrderUpdate, stored selo.OrderState) error {
	switch {
	case u == nil || u.Order == nil:
		return selo.Errorf(selo.EINVALID, "no order given")
	case u.Audit == nil:
		return ErrNoAudit
	case !u.Order.State.Valid():
		return selo.Errorf(selo.EINVALID, "unknown order state %q", u.Order.State)
	case !u.Order.Delivery.Valid():
		return selo.Errorf(selo.EINVALID, "unknown delivery %q", u.Order.Delivery)
	}
	from := stored
	for _, e := range u.Events {
		if e == nil {
			return selo.Errorf(selo.EINVALID, "nil order event")
		}
		if e.From == "" {
			e.From = from
		}
		if e.From != from {
			return selo.Errorf(selo.ECONFLICT, "order %s is %s, not %s", u.Order.Number, from, e.From)
		}
		if !from.CanMoveTo(e.To) {
			return selo.Errorf(selo.EINVALID, "order %s cannot go from %s to %s", u.Order.Number, from, e.To)
		}
		from = e.To
	}
	if from != u.Order.State {
		return selo.Errorf(selo.EINVALID, "order %s would be %s but its events end in %s", u.Order.Number, u.Order.State, from)
	}
	if c := u.CreateCheck; c != nil && (c.ID == "" || c.OrderID != u.Order.ID || !c.Status.Valid()) {
		return selo.Errorf(selo.EINVALID, "identity check to create needs an ID, this order's ID and a status")
	}
	for _, e := range u.Evidence {
		if err := Evidence(e); err != nil {
			return err
		}
		if u.CreateCheck == nil || e.CheckID != u.CreateCheck.ID {
			return selo.Errorf(selo.EINVALID, "identity evidence is stored only with the check it belongs to")
		}
	}
	if c := u.DecideCheck; c != nil && (c.ID == "" || c.OrderID != u.Order.ID || !c.Status.Valid()) {
		return selo.Errorf(selo.EINVALID, "identity check to decide needs an ID, this order's ID and a status")
	}
	for _, c := range u.PutCodes {
		if err := OneTimeCode(c); err != nil {
			return err
		}
	}
	return nil
}

// OneTimeCode validates a code to store.
func OneTimeCode(c *selo.OneTimeCode) error {
	switch {
	case c == nil:
		return selo.Errorf(selo.EINVALID, "no code given")
	case c.Owner == "" || c.Purpose == "":
		return selo.Errorf(selo.EINVALID, "a code needs an owner and a purpose")
	case len(c.Hash) == 0:
		return selo.Errorf(selo.EINVALID, "a code is stored as its hash, and none was given")
	case c.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "a code needs an expiry")
	}
	return nil
}

// Evidence validates a photo of an identity check to store.
func Evidence(e *selo.IdentityEvidence) error {
	switch {
	case e == nil:
		return selo.Errorf(selo.EINVALID, "no identity evidence given")
	case e.CheckID == "" || !e.Kind.Valid():
		return selo.Errorf(selo.EINVALID, "identity evidence needs its check's ID and a known kind")
	case e.ContentType != "image/jpeg" && e.ContentType != "image/png":
		return selo.Errorf(selo.EINVALID, "identity evidence is a JPEG or PNG image, not %q", e.ContentType)
	case e.Size <= 0 || len(e.Sealed) == 0:
		return selo.Errorf(selo.EINVALID, "identity evidence needs its sealed image and size")
	case e.ExpiresAt.IsZero():
		return selo.Errorf(selo.EINVALID, "identity evidence needs the time it expires")
	}
	return nil
}
