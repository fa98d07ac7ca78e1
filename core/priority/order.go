package priority

import (
	"cmp"
	"strings"
	"time"

	"github.com/usmhub/usmhub/core/model"
)

// Rank is where a risk stands in priority order: its score, and the ties'
// breakers. The sprint choice, the risk list and register and the
// dashboard all order risks by Compare, so a risk's place is the same
// wherever it is shown.
type Rank struct {
	// Score is the policy's score; Scored is false when there is none (no
	// policy, or it could not score the risk), and the risk ranks last.
	Score  float64
	Scored bool
	// The tie breakers: the creation time, the key's number (R-2 before
	// R-10; -1 for a key of another form), the key, the id.
	sec  int64
	nsec int32
	seq  int64
	key  string
	id   string
}

// RankOf returns the rank of a risk with the given score (nil: unscored).
func RankOf(score *float64, created time.Time, key, id string) Rank {
	r := Rank{sec: created.Unix(), nsec: int32(created.Nanosecond()), seq: model.KeySeq(key), key: key, id: id}
	if score != nil {
		r.Score, r.Scored = *score, true
	}
	return r
}

// Compare orders a before b (a negative result) by priority: the higher
// score first, unscored risks last; then the risk created first, then the
// lower key number, then the key and the id as text. It is a total order:
// the result never depends on the order risks were read in.
func Compare(a, b Rank) int {
	if a.Scored != b.Scored {
		if a.Scored {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(b.Score, a.Score); c != 0 { // descending
		return c
	}
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.nsec, b.nsec); c != 0 {
		return c
	}
	if c := cmp.Compare(a.seq, b.seq); c != 0 {
		return c
	}
	if c := strings.Compare(a.key, b.key); c != 0 {
		return c
	}
	return strings.Compare(a.id, b.id)
}
