// Package hashlist encodes a list of hashes ([][]byte) as one byte string
// that keeps their order, their count and every byte, so both stores can keep
// the hashes an approval or a SAD is bound to in one BLOB/BYTEA column.
//
// The encoding is each hash as a uvarint length followed by its bytes. A nil
// list is encoded as nil (stored as NULL); any other list, empty included,
// as a non-nil byte string.
package hashlist

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// maxHash bounds the length of one hash when decoding: no digest is longer,
// so a larger length means a corrupt column, not a huge allocation.
const maxHash = 1 << 10

// Encode returns the encoding of hashes; nil for a nil list.
func Encode(hashes [][]byte) []byte {
	if hashes == nil {
		return nil
	}
	n := 0
	for _, h := range hashes {
		n += binary.MaxVarintLen64 + len(h)
	}
	out := make([]byte, 0, n)
	for _, h := range hashes {
		out = binary.AppendUvarint(out, uint64(len(h)))
		out = append(out, h...)
	}
	return out
}

// Decode reverses Encode: nil gives a nil list, an empty non-nil byte string
// an empty non-nil list. It fails on a truncated or malformed encoding.
func Decode(b []byte) ([][]byte, error) {
	if b == nil {
		return nil, nil
	}
	hashes := [][]byte{}
	for len(b) > 0 {
		n, k := binary.Uvarint(b)
		// A longer spelling of the same length is refused: one list, one encoding.
		if k <= 0 || k != len(binary.AppendUvarint(nil, n)) {
			return nil, errors.New("hash list: bad length prefix")
		}
		b = b[k:]
		if n > maxHash || n > uint64(len(b)) {
			return nil, fmt.Errorf("hash list: hash of %d bytes with %d left", n, len(b))
		}
		h := make([]byte, n)
		copy(h, b[:n])
		hashes = append(hashes, h)
		b = b[n:]
	}
	return hashes, nil
}
