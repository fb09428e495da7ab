package desk_test

import (
	"testing"

	"github.com/selo-qtsp/selo/internal/layering"
)

// TestDeskAsksTheServices: the back office imports no store package and
// reaches no store (no .Store selector): every read and every action goes
// through the registration, authority and control services, which audit
// them. Only web sessions live in a store the desk is handed, through the
// web kit.
func TestDeskAsksTheServices(t *testing.T) {
	layering.CheckAsksTheServices(t, "desk", 4)
}
