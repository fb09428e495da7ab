//go:build !cgo

package main

import (
	"fmt"
	"os"
)

// Without cgo there is no C ABI to build: the module needs a C compiler.
func main() {
	fmt.Fprintln(os.Stderr, "selo-pkcs11 is a PKCS#11 module: build it with cgo, go build -buildmode=c-shared -o libselo-pkcs11.so ./cmd/selo-pkcs11")
	os.Exit(2)
}
