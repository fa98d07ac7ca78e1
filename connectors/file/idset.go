package main

import (
	"fmt"
	"io"
	"math"
	"strings"
)

// Telling that an id comes again, in a few bytes a row
//
// Two rows of a data file may not have the same external id, and a row
// without an id gets one derived from its content that no earlier row has
// (risks.go). Both need to know, for each row, whether an earlier row had
// its id. Keeping every id in a map costs some 130 bytes a row: 130 MB for
// a million rows, held by every pull, push and find. An idSet keeps every
// id exactly only while the file is small (exactLimit ids); past that, a
// Bloom filter of 32 bits an id (4 MB for a million rows) answers "not
// seen" for certain and "maybe seen" with a false positive about once in 3
// million lookups. A "maybe" is settled by reading the earlier rows again
// (from the file already open), which finds the first row with the id for
// the message, or finds none. Duplicates are mistakes (rows that clash,
// clash.go) and false positives rare, so an ordinary file is read no more
// than the call's own passes. The keys of a risks file are told the same
// way.

// exactLimit is how many ids an idSet keeps exactly before it switches to
// a filter (a variable, so tests can exercise the filter on small files).
var exactLimit = 4096

// Bloom filter parameters: 32 bits and 16 probes an id give a false
// positive rate of about 3e-7 at capacity.
const (
	bloomBitsPerID = 32
	bloomProbes    = 16
)

// idSet remembers the ids of the rows read so far, in file order.
type idSet struct {
	exact   map[string]int64 // while few: every id → pos of its row
	filters []*bloom         // after: every id, approximately; each new filter twice the last
	n       int              // ids added: the rows read so far

	// earlier returns the pos of the first of the first n rows whose own
	// id is id, reading them again; nil keeps every id exactly.
	earlier func(id string, n int) (pos int64, found bool, err error)
	// rows estimates how many rows the file holds in all, after n were
	// read (sizes the filter); nil sizes it for twice the rows read.
	rows func(n int) int
}

// lookup reports whether an earlier row had id, and where: exact.
func (s *idSet) lookup(id string) (pos int64, found bool, err error) {
	if s.exact != nil || s.filters == nil {
		pos, found = s.exact[id]
		return pos, found, nil
	}
	h1, h2 := hashID(id)
	for _, f := range s.filters {
		if f.has(h1, h2) {
			return s.earlier(id, s.n)
		}
	}
	return 0, false, nil
}

// add records the id of the next row, at pos. The caller has checked with
// lookup that it is new.
func (s *idSet) add(id string, pos int64) {
	s.n++
	if s.filters == nil {
		if s.exact == nil {
			s.exact = map[string]int64{}
		}
		s.exact[strings.Clone(id)] = pos // not a slice of the row's text: the map must not pin it
		if len(s.exact) > exactLimit && s.earlier != nil {
			s.toFilter()
		}
		return
	}
	h1, h2 := hashID(id)
	f := s.filters[len(s.filters)-1]
	if f.n >= f.capacity {
		f = newBloom(2 * f.capacity)
		s.filters = append(s.filters, f)
	}
	f.add(h1, h2)
}

// again records that the next row has an id an earlier row has (lookup
// found it): it is counted, so that a reread goes over it, and the first
// row stays the one lookup names.
func (s *idSet) again() { s.n++ }

// toFilter moves the exact ids into a filter sized for the whole file.
func (s *idSet) toFilter() {
	capacity := 2 * s.n
	if s.rows != nil {
		capacity = max(capacity, s.rows(s.n)*5/4)
	}
	f := newBloom(capacity)
	for id := range s.exact {
		f.add(hashID(id))
	}
	s.filters, s.exact = []*bloom{f}, nil
}

// bloom is a Bloom filter over 64-bit hash pairs (double hashing).
type bloom struct {
	bits     []uint64
	m        uint64 // number of bits
	n        int    // ids added
	capacity int    // ids it is sized for
}

func newBloom(capacity int) *bloom {
	capacity = max(capacity, 1024)
	m := uint64(capacity) * bloomBitsPerID
	return &bloom{bits: make([]uint64, (m+63)/64), m: m, capacity: capacity}
}

func (b *bloom) add(h1, h2 uint64) {
	for i := range uint64(bloomProbes) {
		bit := (h1 + i*h2) % b.m
		b.bits[bit/64] |= 1 << (bit % 64)
	}
	b.n++
}

func (b *bloom) has(h1, h2 uint64) bool {
	for i := range uint64(bloomProbes) {
		bit := (h1 + i*h2) % b.m
		if b.bits[bit/64]&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

// hashID hashes an id into two independent 64-bit values: FNV-1a, then
// two rounds of the splitmix64 finaliser (the second odd, so that the
// probes of double hashing differ).
func hashID(id string) (h1, h2 uint64) {
	h := uint64(14695981039346656037)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint64(id[i])) * 1099511628211
	}
	h1 = mix64(h)
	return h1, mix64(h1^0x9e3779b97f4a7c15) | 1
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rereader reads the rows of an open data file again from its start,
// without moving the file's offset (a pull or push is reading on from it).
type rereader struct {
	f      io.ReaderAt
	path   string
	format string
}

// find returns the pos of the first of the first n rows for which idOf
// returns id.
func (rr rereader) find(id string, n int, idOf func(*table, row) string) (int64, bool, error) {
	t, rows, err := readTable(io.NewSectionReader(rr.f, 0, math.MaxInt64), rr.path, rr.format)
	if err != nil {
		return 0, false, fmt.Errorf("read %s again: %w", rr.path, err)
	}
	for range n {
		r, err := rows.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, false, fmt.Errorf("read %s again: %w", rr.path, err)
		}
		if idOf(t, r) == id {
			return r.pos, true, nil
		}
	}
	return 0, false, nil
}

// estimateRows returns the rows estimate of an idSet for a file of size
// bytes read by rows: the rows read so far, scaled by the share of the
// file they took.
func estimateRows(size int64, rows rowReader) func(n int) int {
	return func(n int) int {
		off := rows.offset()
		if off <= 0 || size <= off {
			return n
		}
		return int(float64(n) * float64(size) / float64(off))
	}
}
