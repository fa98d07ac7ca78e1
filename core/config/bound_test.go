//go:build !race

package config

import "time"

// hangBound is loadWithin's bound against a hang (see bound_race_test.go).
const hangBound = 5 * time.Second
