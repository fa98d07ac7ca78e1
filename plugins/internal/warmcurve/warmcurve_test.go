package warmcurve

import (
	"bytes"
	"crypto/elliptic"
	"testing"
)

// TestWarmComputesTheGenerator: Warm's scalar is a valid P-521 key whose
// public key is the generator, so it runs a scalar base multiplication
// (which builds the generator table) rather than failing early.
func TestWarmComputesTheGenerator(t *testing.T) {
	k, err := warm()
	if err != nil {
		t.Fatalf("the warm-up key is refused, so nothing is warmed: %v", err)
	}
	p := elliptic.P521().Params()
	size := (p.BitSize + 7) / 8
	want := append([]byte{4}, append(p.Gx.FillBytes(make([]byte, size)), p.Gy.FillBytes(make([]byte, size))...)...)
	if got := k.PublicKey().Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("public key of the warm-up scalar is not the P-521 generator:\n got %x\nwant %x", got, want)
	}
}
