package main

import (
	"context"

	"github.com/selo-qtsp/selo/desk"
	"github.com/selo-qtsp/selo/portal"
	"github.com/selo-qtsp/selo/server"
)

// wirePortal sets cfg.Portal: the holder portal over the signing service
// (which must exist: without a master key there is none) and the store's
// web sessions, with the same registration desk as the API when there is one.
func (c *cli) wirePortal(ctx context.Context, cfg *server.Config) error {
	svc := cfg.Signing
	if svc == nil {
		var err error
		if svc, err = c.signing(ctx); err != nil {
			return err
		}
	}
	reg := cfg.Registration
	if reg == nil {
		reg, _ = c.registration(ctx) // the Orders page is empty without it
	}
	p, err := portal.New(portal.Config{Signing: svc, Registration: reg, Sessions: c.store, BaseURL: c.baseURL, Logger: c.log})
	if err != nil {
		return err
	}
	cfg.Portal = p.Handler()
	// The registration desk's back office and the holder's identity
	// check, when the desk and operator accounts are available.
	if reg == nil {
		c.log.Warn("the back office is off: no registration desk")
		return nil
	}
	a, err := c.authority(ctx)
	if err != nil {
		return err
	}
	ctl, err := c.control(ctx)
	if err != nil {
		return err
	}
	d, err := desk.New(desk.Config{Registration: reg, Authority: a, Control: ctl, Sessions: c.store, BaseURL: c.baseURL, Logger: c.log})
	if err != nil {
		return err
	}
	cfg.Desk = d.Handler()
	return nil
}
