package ingest

import (
	"bufio"
	"encoding/csv"
	"io"
	"strings"
)

// newCSVReader returns a CSV reader of r whose separator is the one its
// header line uses: ';' when the header has more semicolons than commas
// outside quotes (Dutch and German Excel save CSV so), else ','. It
// returns the separator too, for messages about the header.
func newCSVReader(r io.Reader) (*csv.Reader, rune) {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	sep := detectSeparator(br)
	cr := csv.NewReader(br)
	cr.Comma = sep
	return cr, sep
}

// detectSeparator looks at the first line (up to 64 KiB) without consuming
// it.
func detectSeparator(br *bufio.Reader) rune {
	head, _ := br.Peek(64 << 10)
	commas, semicolons := 0, 0
	quoted := false
	for _, c := range head {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '\n':
			goto done
		case c == ',':
			commas++
		case c == ';':
			semicolons++
		}
	}
done:
	if semicolons > commas {
		return ';'
	}
	return ','
}

// separatorNote says which separator a CSV file was read with, for the
// message about the unknown column col: always for ';', and for ',' when
// the column holds a ';' (a header whose separator was mixed).
func separatorNote(sep rune, col string) string {
	switch {
	case sep == ';':
		return " (the file was read with ';' as the separator, found in its header)"
	case strings.ContainsRune(col, ';'):
		return " (the file was read with ',' as the separator, found in its header; use one separator throughout)"
	}
	return ""
}
