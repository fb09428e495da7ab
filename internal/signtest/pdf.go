package signtest

import (
	"bytes"
	"fmt"
)

// PDF returns a hand-written PDF file: header (the version line, and the
// binary comment if wanted), then objs as objects 1, 2, … (object 1 must be
// the catalog), a classic cross-reference table and a trailer. It serves the
// tests and benchmarks that need small PDFs whose every byte they know.
func PDF(header string, objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}
