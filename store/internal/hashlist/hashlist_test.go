package hashlist

import (
	"bytes"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		hashes [][]byte
	}{
		{"nil", nil},
		{"empty", [][]byte{}},
		{"one", [][]byte{bytes.Repeat([]byte{0xab}, 32)}},
		{"empty hash", [][]byte{{}}},
		{"order and duplicates", [][]byte{{3}, {1, 2}, {3}, bytes.Repeat([]byte{0}, 300), {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := Encode(tt.hashes)
			if (enc == nil) != (tt.hashes == nil) {
				t.Fatalf("Encode(%v) = %v: nil must map to nil and only nil", tt.hashes, enc)
			}
			got, err := Decode(enc)
			if err != nil {
				t.Fatal(err)
			}
			if (got == nil) != (tt.hashes == nil) || len(got) != len(tt.hashes) {
				t.Fatalf("decoded %d hashes (nil %v), want %d (nil %v)", len(got), got == nil, len(tt.hashes), tt.hashes == nil)
			}
			for i := range got {
				if !bytes.Equal(got[i], tt.hashes[i]) {
					t.Fatalf("hash %d is %x, want %x", i, got[i], tt.hashes[i])
				}
			}
		})
	}
}

func TestDecodeRefusesMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"truncated hash":    {5, 1, 2},
		"truncated varint":  {0x80},
		"huge length":       {0xff, 0xff, 0xff, 0xff, 0x0f},
		"long zero":         {0x80, 0x00},
		"length over limit": append([]byte{0x81, 0x08}, make([]byte, 1025)...),
	} {
		if got, err := Decode(b); err == nil {
			t.Errorf("%s: Decode(%x) = %v, want an error", name, b, got)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte{})
	f.Add(Encode([][]byte{{1, 2, 3}, {}}))
	f.Add([]byte{0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		hashes, err := Decode(b)
		if err != nil {
			return
		}
		// What decodes re-encodes to the same bytes: one list, one encoding.
		if again := Encode(hashes); !bytes.Equal(again, b) {
			t.Fatalf("Decode(%x) then Encode gives %x", b, again)
		}
	})
}

// TestDecodedHashesDoNotShareCapacity: the hashes share one backing array,
// so each must be capped at its own length.
func TestDecodedHashesDoNotShareCapacity(t *testing.T) {
	hashes, err := Decode(Encode([][]byte{{1, 1}, {2, 2}}))
	if err != nil {
		t.Fatal(err)
	}
	_ = append(hashes[0], 9)
	if cap(hashes[0]) != 2 || hashes[1][0] != 2 {
		t.Fatalf("cap %d, second hash %x", cap(hashes[0]), hashes[1])
	}
	if got, err := Decode([]byte{}); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("an empty encoding: %v, %v; want an empty non-nil list", got, err)
	}
}
