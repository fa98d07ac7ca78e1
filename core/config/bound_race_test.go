//go:build race

package config

import "time"

// hangBound is loadWithin's bound against a hang. The race detector makes
// the guard's lexing 5-10 times slower (on a loaded machine a bomb's refusal
// took over 5 s), so the bound is wider under it.
const hangBound = 60 * time.Second
