// Package flatjson is the hand-written JSON of the CSC API's hot path,
// signatures/signHash, shared by the client (package csc) and the server
// handlers (package cscserver): a scanner of flat objects whose values are
// plain strings or arrays of them, and an encoder of base64 arrays. Both
// ends build their fast paths over it; see csc/fastjson.go and
// csc/cscserver/fastjson.go for the rules that keep them conservative.
package flatjson

import "encoding/base64"

// b64 is the encoding of hashes and signatures on the wire.
var b64 = base64.StdEncoding

// Scanner walks a JSON object of string and string-array values.
type Scanner struct {
	s string
	i int
}

// NewScanner returns a scanner at the start of s.
func NewScanner(s string) *Scanner { return &Scanner{s: s} }

func (p *Scanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c (after white space) and says whether it was there.
func (p *Scanner) byte(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// PlainSpan reads a string of printable ASCII without escapes and returns
// where its contents start and end in the input.
func (p *Scanner) PlainSpan() (int, int, bool) {
	if !p.byte('"') {
		return 0, 0, false
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return start, p.i - 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return 0, 0, false
		}
		p.i++
	}
	return 0, 0, false
}

// PlainString is PlainSpan as a substring of the input (no copy).
func (p *Scanner) PlainString() (string, bool) {
	start, end, ok := p.PlainSpan()
	return p.s[start:end], ok
}

// StringArray reads an array of plain strings and returns their spans,
// allocated once: a plain string holds no '"', so the number of '"' up to
// the first ']' is twice the number of entries when the array is well
// formed (which reading it then checks).
func (p *Scanner) StringArray() ([][2]int, bool) {
	if !p.byte('[') {
		return nil, false
	}
	n := 0
	for j := p.i; j < len(p.s) && p.s[j] != ']'; j++ {
		if p.s[j] == '"' {
			n++
		}
	}
	out := make([][2]int, 0, n/2)
	if p.byte(']') {
		return out, true
	}
	for {
		start, end, ok := p.PlainSpan()
		if !ok {
			return nil, false
		}
		out = append(out, [2]int{start, end})
		if p.byte(']') {
			return out, true
		}
		if !p.byte(',') {
			return nil, false
		}
	}
}

// Object reads {"key": value, ...} to the end of the input, calling field
// for each key with the scanner placed before its value; field reads the
// value and says whether it could. Trailing white space is allowed,
// anything else after the object is not.
func (p *Scanner) Object(field func(key string) bool) bool {
	if !p.byte('{') {
		return false
	}
	if !p.byte('}') {
		for {
			key, ok := p.PlainString()
			if !ok || !p.byte(':') || !field(key) {
				return false
			}
			if p.byte('}') {
				break
			}
			if !p.byte(',') {
				return false
			}
		}
	}
	p.space()
	return p.i == len(p.s)
}

// AppendBase64Array appends ["base64",...]: base64 needs no JSON escape.
func AppendBase64Array(dst []byte, items [][]byte) []byte {
	dst = append(dst, '[')
	for i, b := range items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = b64.AppendEncode(dst, b)
		dst = append(dst, '"')
	}
	return append(dst, ']')
}

// Base64ArraySize is the exact length AppendBase64Array writes.
func Base64ArraySize(items [][]byte) int {
	n := len("[]")
	for i, b := range items {
		n += b64.EncodedLen(len(b)) + len(`""`)
		if i > 0 {
			n++ // the comma
		}
	}
	return n
}
