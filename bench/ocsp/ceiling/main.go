// Command ceiling is the OCSP benchmark's ceiling: a plain net/http server
// that answers every request with the same bytes from memory, with the
// headers an OCSP response carries. Nothing can serve an OCSP response
// faster through net/http; bench/ocsp/run.sh compares Selo's responder with it.
//
//	go run ./bench/ocsp/ceiling -response resp.der -listen 127.0.0.1:18082
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
)

func main() {
	file := flag.String("response", "", "DER OCSP response to serve")
	listen := flag.String("listen", "127.0.0.1:18082", "address to listen on")
	flag.Parse()
	body, err := os.ReadFile(*file)
	if err != nil || len(body) == 0 {
		fmt.Fprintln(os.Stderr, "ceiling: -response must name a DER OCSP response:", err)
		os.Exit(2)
	}
	length := strconv.Itoa(len(body))
	err = http.ListenAndServe(*listen, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/ocsp-response")
		h.Set("Content-Length", length)
		h.Set("Cache-Control", "public, max-age=3600, no-transform, must-revalidate")
		w.Write(body)
	}))
	fmt.Fprintln(os.Stderr, "ceiling:", err)
	os.Exit(1)
}
