package prom_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/selo-qtsp/selo/metrics"
	"github.com/selo-qtsp/selo/metrics/prom"
)

// TestOCSPStatusLabels checks that every RFC 6960 status gets its own name
// and that a status out of range is counted as "other", not dropped and
// not a panic.
func TestOCSPStatusLabels(t *testing.T) {
	m := prom.New(prom.State{})
	for _, s := range []int{0, 1, 2, 3, 5, 6, 4, -1, 99} {
		m.OCSPAnswered(s, s == 0)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mt := range families["selo_ocsp_answers_total"].GetMetric() {
		key := ""
		for _, l := range mt.GetLabel() {
			key += l.GetName() + "=" + l.GetValue() + ","
		}
		got[key] = mt.GetCounter().GetValue()
	}
	for key, want := range map[string]float64{
		"cache=hit,status=successful,":        1,
		"cache=miss,status=malformedRequest,": 1,
		"cache=miss,status=unauthorized,":     1,
		"cache=miss,status=other,":            3,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v (all: %v)", key, got[key], want, got)
		}
	}
}

// The hooks on the hot paths, with the Prometheus sink and with none: the
// difference is what counting adds to one OCSP answer (about 2 µs served
// from memory, BenchmarkOCSPGet) or one signHash batch (tens of µs per
// signature).
func BenchmarkOCSPAnswered(b *testing.B) {
	for _, c := range []struct {
		name string
		sink metrics.Sink
	}{{"nop", metrics.Nop{}}, {"prometheus", prom.New(prom.State{})}} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.sink.OCSPAnswered(0, true)
				}
			})
		})
	}
}

func BenchmarkSignHashBatch(b *testing.B) {
	for _, c := range []struct {
		name string
		sink metrics.Sink
	}{{"nop", metrics.Nop{}}, {"prometheus", prom.New(prom.State{})}} {
		b.Run(c.name, func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.sink.SignHashBatch(10, true)
				}
			})
		})
	}
}
