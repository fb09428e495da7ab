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
	// Two passes: check the framing and count, then copy every hash into
	// one backing array (a SAD's hundred hashes are one allocation, not a
	// hundred, on the path of every signHash).
	count, total := 0, 0
	for rest := b; len(rest) > 0; count++ {
		n, k := binary.Uvarint(rest)
		// A longer spelling of the same length is refused: one list, one encoding.
		if k <= 0 || k != uvarintLen(n) {
			return nil, errors.New("hash list: bad length prefix")
		}
		rest = rest[k:]
		if n > maxHash || n > uint64(len(rest)) {
			return nil, fmt.Errorf("hash list: hash of %d bytes with %d left", n, len(rest))
		}
		rest = rest[n:]
		total += int(n)
	}
	hashes := make([][]byte, count)
	arena := make([]byte, total)
	for i := range hashes {
		n, k := binary.Uvarint(b)
		b = b[k:]
		h := arena[:n:n] // its own capacity: an append cannot spill into the next
		copy(h, b[:n])
		hashes[i], arena, b = h, arena[n:], b[n:]
	}
	return hashes, nil
}

// uvarintLen is the length of the shortest uvarint encoding of n.
func uvarintLen(n uint64) int {
	k := 1
	for ; n >= 0x80; n >>= 7 {
		k++
	}
	return k
}
