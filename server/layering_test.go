package server_test

import (
	"testing"

	"github.com/selo-qtsp/selo/internal/layering"
)

// TestServerAsksTheServices: the HTTP layer asks the services for their data
// (authority for CAs and certificates, registration for orders) and never
// reaches past them into the store. It fails on any use of a Store field or
// method (a.Store(), cfg.Store) in the package's non-test files, and on an
// import of a store package; the store's type, selo.Store, may still be
// named.
func TestServerAsksTheServices(t *testing.T) {
	layering.CheckAsksTheServices(t, "server", 10)
}
