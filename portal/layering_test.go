package portal_test

import (
	"os"
	"testing"

	"github.com/selo-qtsp/selo/internal/layering"
	"github.com/selo-qtsp/selo/internal/web/webtest"
)

// TestPortalAsksTheServices: the portal's pages ask the services (signing,
// registration) and never reach into a store: no store package imported, no
// Store field or method used. Its web sessions go through the kit
// (internal/web), which is handed the store by the wiring.
func TestPortalAsksTheServices(t *testing.T) {
	layering.CheckAsksTheServices(t, "portal", 6)
}

// TestMessagesAgree: every portal message exists in Portuguese and English.
func TestMessagesAgree(t *testing.T) {
	webtest.CheckMessages(t, os.DirFS("messages"))
}
