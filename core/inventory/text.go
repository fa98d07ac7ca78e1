package inventory

import (
	"fmt"
	"slices"

	"github.com/usmhub/usmhub/core/ingest"
)

// What an import says to the person who ran it: each line names the file
// and the line of the row it concerns (FILE:LINE: …), in file order, and
// one summary line ends it. The JSON of a result says the same for tools.

// numbered is one line of an import's account at a line of its file.
type numbered struct {
	line int
	text string
}

// inFileOrder returns the lines as FILE:LINE: TEXT, sorted by line (stable:
// lines of one row keep their order).
func inFileOrder(file string, lines []numbered) []string {
	slices.SortStableFunc(lines, func(a, b numbered) int { return a.line - b.line })
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		out = append(out, fmt.Sprintf("%s:%d: %s", file, l.line, l.text))
	}
	return out
}

// Notes are the remarks on a risk import, in file order: each row without
// a key that matched a risk by its title, and each field that kept the
// hub's value with the reason. They are not changes (the CLI prints them
// on stderr).
func (res *RiskResult) Notes() []string {
	var notes []numbered
	for _, m := range res.MatchedByTitle {
		notes = append(notes, numbered{m.Line, fmt.Sprintf("note: row matched %s by its title %q (the row has no key)", m.Key, m.Title)})
	}
	for _, k := range res.KeptFields {
		notes = append(notes, numbered{k.Line, fmt.Sprintf("warning: %s %s: keeps %s, the file says %s: %s", k.Key, k.Field,
			ingest.Quote(k.Field, k.Hub), ingest.Quote(k.Field, k.File), k.Message)})
	}
	return inFileOrder(res.File, notes)
}

// Lines are the changes of a risk import, in file order: in a dry run the
// risks it would create, and every field changed (or, dry, to change).
func (res *RiskResult) Lines() []string {
	var lines []numbered
	if res.DryRun {
		for _, c := range res.Creates {
			lines = append(lines, numbered{c.Line, fmt.Sprintf("would create %s %q", c.Key, c.Title)})
		}
	}
	for _, c := range res.Changes {
		lines = append(lines, numbered{c.Line, changeText(c)})
	}
	return inFileOrder(res.File, lines)
}

// Summary is the one-line account of a risk import.
func (res *RiskResult) Summary() string {
	return fmt.Sprintf("%s %s: %d created, %d updated, %d unchanged, %d kept (changed since last import)",
		verb(res.DryRun), res.File, res.Created, res.Updated, res.Unchanged, res.Kept)
}

// Lines are the changes of an item import: every field changed (or, dry,
// to change), then, in a dry run, the items it would create.
func (res *ItemResult) Lines() []string {
	var lines []string
	for _, c := range res.Changes {
		lines = append(lines, fmt.Sprintf("%s:%d: %s", res.File, c.Line, changeText(c)))
	}
	if res.DryRun {
		for _, c := range res.Creates {
			lines = append(lines, fmt.Sprintf("%s:%d: would create %s %q", res.File, c.Line, c.Key, c.Title))
		}
	}
	return lines
}

// Summary is the one-line account of an item import.
func (res *ItemResult) Summary() string {
	return fmt.Sprintf("%s %s: %d created, %d updated, %d unchanged", verb(res.DryRun), res.File, res.Created, res.Updated, res.Unchanged)
}

// changeText is one changed field: KEY FIELD: OLD → NEW, each value quoted
// as its field's cells are.
func changeText(c Change) string {
	return fmt.Sprintf("%s %s: %s → %s", c.Key, c.Field, ingest.Quote(c.Field, c.Old), ingest.Quote(c.Field, c.New))
}

// verb is how a summary begins.
func verb(dryRun bool) string {
	if dryRun {
		return "would import (dry run, nothing stored)"
	}
	return "imported"
}
