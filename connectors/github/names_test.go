package main

import (
	"regexp"
	"strings"
	"testing"
)

// TestNamesAsTheBoundedExpressions: validOwner and validRepo accept
// exactly what the bounded expressions they replaced accepted, around
// their length limits (39 and 100 bytes) included.
func TestNamesAsTheBoundedExpressions(t *testing.T) {
	cases := []struct {
		name    string
		bounded *regexp.Regexp
		valid   func(string) bool
	}{
		{"owner", regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$`), validOwner},
		{"repo", regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`), validRepo},
	}
	var names []string
	for _, first := range []string{"a", "Z", "7", ".", "-", "_", "é", " "} {
		for _, rest := range []string{"b", ".", "-", "_", "/", "é", " ", "\n"} {
			for _, n := range []int{0, 1, 37, 38, 39, 40, 98, 99, 100, 101, 120} {
				names = append(names, first+strings.Repeat(rest, n))
			}
		}
	}
	names = append(names, "", "acme", "acme-corp", "usmhub.github.io", "a\n")
	for _, c := range cases {
		accepted := 0
		for _, s := range names {
			want := c.bounded.MatchString(s)
			if got := c.valid(s); got != want {
				t.Errorf("%s %q (%d bytes): got %v, the bounded expression says %v", c.name, s, len(s), got, want)
			}
			if want {
				accepted++
			}
		}
		if accepted == 0 || accepted == len(names) {
			t.Fatalf("%s: the cases do not tell names apart: %d of %d accepted", c.name, accepted, len(names))
		}
	}
}
