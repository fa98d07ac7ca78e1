package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestReportKeyAsTheBoundedExpression: validReportKey accepts exactly what
// the bounded expression it replaced accepted, lengths 0 to 210 around
// the 200-byte limit included.
func TestReportKeyAsTheBoundedExpression(t *testing.T) {
	bounded := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`)
	var keys []string
	for _, first := range []string{"a", "Z", "7", ".", "-", "_", "é", " "} {
		for _, rest := range []string{"b", ".", "-", "_", "/", "é", " ", "\n"} {
			for _, n := range []int{0, 1, 2, 198, 199, 200, 210} {
				keys = append(keys, first+strings.Repeat(rest, n))
			}
		}
	}
	keys = append(keys, "", "sprint-3.review_2", "a\n", "../x", "x/y")
	accepted := 0
	for _, k := range keys {
		want := bounded.MatchString(k)
		if got := validReportKey(k); got != want {
			t.Errorf("validReportKey(%q) (%d bytes) = %v, the bounded expression says %v", k, len(k), got, want)
		}
		if want {
			accepted++
		}
	}
	if accepted == 0 || accepted == len(keys) {
		t.Fatalf("the cases do not tell keys apart: %d of %d accepted", accepted, len(keys))
	}
}
