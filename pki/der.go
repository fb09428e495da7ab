package pki

import (
	"errors"
	"time"
)

// The hand-written DER below serves the encoders that cannot hold their whole
// output in memory (the CRL writer) or that run once per entry of a million.

// DER universal tags used by the hand-written encoders.
const (
	tagInteger         = 0x02
	tagBitString       = 0x03
	tagOctetString     = 0x04
	tagOID             = 0x06
	tagEnumerated      = 0x0a
	tagUTCTime         = 0x17
	tagGeneralizedTime = 0x18
	tagSequence        = 0x30
)

// appendHeader appends a DER tag and the definite, minimal length n.
func appendHeader(b []byte, tag byte, n int64) []byte {
	b = append(b, tag)
	if n < 0x80 {
		return append(b, byte(n))
	}
	size := 0
	for v := n; v > 0; v >>= 8 {
		size++
	}
	b = append(b, 0x80|byte(size))
	for i := size - 1; i >= 0; i-- {
		b = append(b, byte(n>>(8*i)))
	}
	return b
}

// headerLen is the length of the header appendHeader writes for n.
func headerLen(n int64) int64 {
	if n < 0x80 {
		return 2
	}
	size := int64(0)
	for v := n; v > 0; v >>= 8 {
		size++
	}
	return 2 + size
}

// errTimeRange reports a time that RFC 5280 cannot encode.
var errTimeRange = errors.New("time is outside the years 0001-9999")

// appendTime appends t as RFC 5280 4.1.2.5 requires: UTCTime for the years
// 1950 to 2049, GeneralizedTime otherwise, in UTC and to the second (fractions
// are dropped, as crypto/x509 drops them).
func appendTime(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	y, mo, d := t.Date()
	if y >= 1950 && y < 2050 {
		b = append(b, tagUTCTime, 13)
		b = appendDigits(b, y%100, 2)
		return appendClock(b, mo, d, t), nil
	}
	return appendGeneralizedTime(b, t)
}

// appendGeneralizedTime appends t as a GeneralizedTime, which RFC 5280
// requires for invalidity dates and RFC 6960 for every OCSP time.
func appendGeneralizedTime(b []byte, t time.Time) ([]byte, error) {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 1 || y > 9999 {
		return b, errTimeRange
	}
	b = append(b, tagGeneralizedTime, 15)
	b = appendDigits(b, y, 4)
	return appendClock(b, mo, d, t), nil
}

// appendClock appends MMDDHHMMSSZ.
func appendClock(b []byte, mo time.Month, d int, t time.Time) []byte {
	hh, mm, ss := t.Clock()
	b = appendDigits(b, int(mo), 2)
	b = appendDigits(b, d, 2)
	b = appendDigits(b, hh, 2)
	b = appendDigits(b, mm, 2)
	b = appendDigits(b, ss, 2)
	return append(b, 'Z')
}

func appendDigits(b []byte, v, width int) []byte {
	var d [4]byte
	for i := width - 1; i >= 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:width]...)
}
