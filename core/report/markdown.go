package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/readiness"
)

// footerTime is how the footer shows GeneratedAt.
const footerTime = "2006-01-02 15:04 UTC"

// Markdown renders the report for a ticket: CommonMark with GitHub-style
// tables, using only headings, paragraphs, lists, tables, bold and code,
// which Redmine, GitHub and Request Tracker all render. It ends with a
// footer line naming the report key and when the report was generated.
func (r *Report) Markdown() string {
	var b strings.Builder
	// The title is the ticket's subject (sdk.Report.Title), not repeated
	// in its body.
	switch {
	case r.Sprint != nil:
		r.sprintMarkdown(&b)
	case r.Scan != nil:
		r.scanMarkdown(&b)
	case r.Register != nil:
		r.registerMarkdown(&b)
	case r.Readiness != nil:
		r.readinessMarkdown(&b)
	}
	fmt.Fprintf(&b, "---\n\nPublished by usmhub — report key %s, generated %s\n", codeSpan(r.Key), r.GeneratedAt.UTC().Format(footerTime))
	return redact(b.String(), r.secrets)
}

func (r *Report) sprintMarkdown(b *strings.Builder) {
	s := r.Sprint
	if s.Number == 0 {
		b.WriteString("No improvement sprint has been planned yet.\n\n")
		nextStep(b, s.Next)
		return
	}
	if s.Goal != "" {
		fmt.Fprintf(b, "- **Goal:** %s\n", Text(s.Goal))
	}
	fmt.Fprintf(b, "- **Status:** %s\n", label(string(s.Status)))
	fmt.Fprintf(b, "- **Dates:** %s to %s\n", Text(s.Start), Text(s.End))
	fmt.Fprintf(b, "- **Capacity:** %s of %s used\n", num(s.Used), num(s.Capacity))
	c := s.Counts
	progress := fmt.Sprintf("%d realized, %d in progress, %d planned, %d returned to the pool", c.Realized, c.InProgress, c.Planned, c.Returned)
	if c.Rejected > 0 {
		progress += fmt.Sprintf(", %d rejected", c.Rejected)
	}
	if c.Missing > 0 {
		progress += fmt.Sprintf(", %d no longer in the risk database", c.Missing)
	}
	fmt.Fprintf(b, "- **Progress:** %s\n", progress)
	fmt.Fprintf(b, "- **Effort realised:** %s of %s planned\n\n", num(s.RealizedEffort), num(s.PlannedEffort))

	fmt.Fprintf(b, "### Chosen risks\n\n")
	if len(s.Items) == 0 {
		b.WriteString("No risk was chosen for this sprint.\n\n")
	} else {
		rows := make([][]string, len(s.Items))
		for i, it := range s.Items {
			status := label(string(it.Status))
			if it.Status == "" {
				status = "(no longer in the risk database)"
			}
			rows[i] = []string{it.Key, it.Title, num(it.Score), num(it.Effort), status}
		}
		table(b, []string{"Risk", "Title", "Score when chosen", "Effort", "Status now"}, "llrrl", rows)
	}

	fmt.Fprintf(b, "### Priority policy\n\n")
	if s.Policy == "" {
		b.WriteString("The sprint recorded no priority policy.\n\n")
	} else {
		b.WriteString("The risks were chosen by this score, fixed before the sprint:\n\n")
		codeBlock(b, s.Policy)
	}
	if s.PolicyNow != "" {
		b.WriteString("The initiative's policy has changed since; it now reads:\n\n")
		codeBlock(b, s.PolicyNow)
	}
}

func (r *Report) scanMarkdown(b *strings.Builder) {
	s := r.Scan
	if s.Baseline == nil {
		b.WriteString("No baseline scan of the current situation has been taken yet, so progress cannot be measured.\n\n")
		nextStep(b, s.Next)
		return
	}
	scans := [][]string{scanRow("Baseline", s.Baseline)}
	if s.Latest != nil {
		scans = append(scans, scanRow("Latest", s.Latest))
	}
	table(b, []string{"Scan", "Kind", "Method", "Version", "Date", "Dimensions"}, "lllllr", scans)
	if s.Latest == nil {
		b.WriteString("No progress scan with the baseline's method and version yet: the baseline's scores are the starting point.\n\n")
	} else {
		fmt.Fprintf(b, "%s with the same method since the baseline; the latest is compared with it.\n\n", plural(s.ProgressScans, "progress scan"))
	}
	if s.Incomparable > 0 {
		fmt.Fprintf(b, "Not compared: %s taken with another method or version than the baseline's.\n\n", plural(s.Incomparable, "progress scan"))
	}

	b.WriteString("### Per dimension\n\n")
	var up, down, same int
	rows := make([][]string, len(s.Rows))
	for i, row := range s.Rows {
		rows[i] = []string{row.Dimension, numPtr(row.Baseline)}
		if s.Latest != nil {
			rows[i] = append(rows[i], numPtr(row.Latest), delta(row.Delta))
		}
		if row.Delta != nil {
			switch d := math.Round(*row.Delta*100) / 100; {
			case d > 0:
				up++
			case d < 0:
				down++
			default:
				same++
			}
		}
	}
	if s.Latest != nil {
		table(b, []string{"Dimension", "Baseline", "Latest", "Change"}, "lrrl", rows)
		fmt.Fprintf(b, "%s improved, %s declined, %s unchanged.\n\n", plural(up, "dimension"), strconv.Itoa(down), strconv.Itoa(same))
	} else {
		table(b, []string{"Dimension", "Baseline"}, "lr", rows)
	}

	if s.Latest != nil {
		fmt.Fprintf(b, "### Findings of the latest scan (%s)\n\n", Text(s.Latest.TakenOn))
	} else {
		fmt.Fprintf(b, "### Findings of the baseline scan (%s)\n\n", Text(s.Baseline.TakenOn))
	}
	if len(s.Findings) == 0 {
		b.WriteString("No findings were recorded with this scan.\n\n")
	} else {
		for _, f := range s.Findings {
			fmt.Fprintf(b, "- %s\n", Text(f))
		}
		b.WriteString("\n")
	}
	nextStep(b, s.Next)
}

func scanRow(name string, s *ScanInfo) []string {
	return []string{name, string(s.Kind), s.Method, s.MethodVersion, s.TakenOn, strconv.Itoa(s.Dimensions)}
}

func (r *Report) registerMarkdown(b *strings.Builder) {
	g := r.Register
	var realized, rejected int
	for _, c := range g.ByStatus {
		switch model.Status(c.Name) {
		case model.Realized:
			realized = c.Count
		case model.Rejected:
			rejected = c.Count
		}
	}
	fmt.Fprintf(b, "**%s** in the register: %d open, %d realized, %d rejected.\n\n", plural(g.Total, "risk"), g.Open, realized, rejected)
	if g.Policy == "" {
		b.WriteString("No priority policy is fixed for this initiative yet, so the open risks are listed by key, unscored.\n\n")
	} else {
		fmt.Fprintf(b, "Ranked by the priority policy **%s**:\n\n", Text(g.Policy))
		codeBlock(b, g.PolicyText)
	}

	if g.Policy == "" {
		fmt.Fprintf(b, "### First %d open risks by key\n\n", g.TopN)
	} else {
		fmt.Fprintf(b, "### Top %d open risks by priority\n\n", g.TopN)
	}
	if len(g.Top) == 0 {
		b.WriteString("No open risks.\n\n")
	} else {
		rows := make([][]string, len(g.Top))
		affects := false // the column shows once a risk names items
		for _, t := range g.Top {
			affects = affects || len(t.Affects) > 0
		}
		for i, t := range g.Top {
			process := string(t.Process)
			if process == "" {
				process = "—"
			}
			rows[i] = []string{strconv.Itoa(t.Rank), t.Key, t.Title, string(t.Kind), process, label(string(t.Status)),
				fmt.Sprintf("%d × %d", t.Likelihood, t.Impact), num(t.Effort), strconv.Itoa(t.Votes), numPtr(t.Score)}
			if affects {
				a := "—"
				if len(t.Affects) > 0 {
					a = strings.Join(t.Affects, ", ")
				}
				rows[i] = append(rows[i], a)
			}
		}
		head, align := []string{"#", "Risk", "Title", "Kind", "Process", "Status", "Likelihood × impact", "Effort", "Votes", "Score"}, "rllllllrrr"
		if affects {
			head, align = append(head, "Affects"), align+"l"
		}
		table(b, head, align, rows)
	}
	if g.Unscored > 0 {
		fmt.Fprintf(b, "**Note:** the policy could not score %s, ranked last: %s\n\n", plural(g.Unscored, "open risk"), inline(g.ScoreError))
	}

	b.WriteString("### Open risks by likelihood and impact\n\n")
	b.WriteString("Threats / opportunities in each cell.\n\n")
	rows := make([][]string, 0, 5)
	for l := 5; l >= 1; l-- {
		row := []string{strconv.Itoa(l)}
		for i := 1; i <= 5; i++ {
			t, o := g.Heatmap.Threats[l-1][i-1], g.Heatmap.Opportunities[l-1][i-1]
			if t+o == 0 {
				row = append(row, "·")
			} else {
				row = append(row, fmt.Sprintf("%d / %d", t, o))
			}
		}
		rows = append(rows, row)
	}
	table(b, []string{"Likelihood ↓ impact →", "1", "2", "3", "4", "5"}, "rrrrrr", rows)

	if len(g.Trend) > 0 {
		b.WriteString("### Per week\n\n")
		rows := make([][]string, len(g.Trend))
		for i, w := range g.Trend {
			rows[i] = []string{w.Week, strconv.Itoa(w.Open), strconv.Itoa(w.Realized), strconv.Itoa(w.Rejected)}
		}
		table(b, []string{"Week", "Open", "Realized", "Rejected"}, "lrrr", rows)
	}

	for _, part := range []struct {
		title, column string
		counts        []Count
	}{
		{"Risks per status", "Status", g.ByStatus},
		{"Risks per kind", "Kind", g.ByKind},
		{"Risks per process", "Process", g.ByProcess},
	} {
		fmt.Fprintf(b, "### %s\n\n", part.title)
		rows := make([][]string, 0, len(part.counts)+1)
		for _, c := range part.counts {
			rows = append(rows, []string{label(c.Name), strconv.Itoa(c.Count)})
		}
		rows = append(rows, []string{"Total", strconv.Itoa(g.Total)})
		table(b, []string{part.column, "Risks"}, "lr", rows, withTotal)
	}
}

func (r *Report) readinessMarkdown(b *strings.Builder) {
	pass, warn, fail := tally(r.Readiness)
	fmt.Fprintf(b, "USM's preconditions for an improvement initiative: %d pass, %d warn, %d fail.\n\n", pass, warn, fail)
	rows := make([][]string, len(r.Readiness))
	for i, c := range r.Readiness {
		rows[i] = []string{strconv.Itoa(c.Precondition), capitalise(c.Name), outcome(c.Status), c.Reason}
	}
	table(b, []string{"#", "Precondition", "Result", "Reason"}, "rlll", rows)
	b.WriteString("### Next steps\n\n")
	any := false
	for _, c := range r.Readiness {
		if strings.TrimSpace(c.Next) == "" {
			continue
		}
		any = true
		fmt.Fprintf(b, "- **%d. %s** (%s): %s\n", c.Precondition, inline(capitalise(c.Name)), outcome(c.Status), inline(c.Next))
	}
	if !any {
		b.WriteString("None: every precondition is met.\n")
	}
	b.WriteString("\n")
}

// outcome shows a check's status with a sign that reads at a glance.
func outcome(s readiness.Status) string {
	switch s {
	case readiness.Pass:
		return "✅ pass"
	case readiness.Warn:
		return "⚠ warn"
	default:
		return "❌ " + string(s)
	}
}

func nextStep(b *strings.Builder, next string) {
	if next != "" {
		fmt.Fprintf(b, "**Next step:** %s\n\n", inline(next))
	}
}

// table writes a GitHub-style table. align holds one letter per column:
// l (left) or r (right). Cells are made single-line and their pipes escaped.
// withTotal, given to table, makes its last row the table's total, in bold.
const withTotal = true

// table writes a Markdown table whose cells are escaped (cell); with
// total (withTotal) the last row's cells are set in bold.
func table(b *strings.Builder, header []string, align string, rows [][]string, total ...bool) {
	b.WriteString("|")
	for _, h := range header {
		b.WriteString(" " + cell(h) + " |")
	}
	b.WriteString("\n|")
	for i := range header {
		if i < len(align) && align[i] == 'r' {
			b.WriteString(" ---: |")
		} else {
			b.WriteString(" --- |")
		}
	}
	b.WriteString("\n")
	bold := len(total) > 0 && total[0]
	for r, row := range rows {
		b.WriteString("|")
		for i := range header {
			v := ""
			if i < len(row) {
				v = row[i]
			}
			if v = cell(v); v == "" {
				b.WriteString(" |")
			} else if bold && r == len(rows)-1 {
				b.WriteString(" **" + v + "** |")
			} else {
				b.WriteString(" " + v + " |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// cell makes text safe inside a table cell: Text, with every pipe escaped
// so it cannot end the cell (Text has escaped every backslash already, so
// a backslash before a pipe stays a backslash).
func cell(s string) string {
	return strings.ReplaceAll(Text(s), "|", `\|`)
}

// Text makes text from people and tools (titles, goals, owners, findings)
// safe to put into a report's Markdown: on one line (inline), showing as
// written and doing nothing else. Every Markdown character that could
// start emphasis, code, a link or an image is backslash-escaped, so no link
// but the http(s), www and mail addresses a renderer links by itself comes
// out of it (a javascript: URL stays text); <, > and & become entities, so
// no HTML tag or comment reaches a ticket; and the mass mentions @everyone,
// @here and @channel get a zero-width space after the @, so they notify
// nobody. It is the one escaper of report text; HTML reports escape with
// html/template.
func Text(s string) string {
	s = inline(s)
	if !strings.ContainsAny(s, "\\`*_[]<>&~@!") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '`', '*', '_', '[', ']', '~', '!':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '@':
			b.WriteByte(c)
			if massMention(s[i+1:]) {
				b.WriteString("\u200b")
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// massMention says whether rest, the text after an @, names everyone: the
// word alone, not the start of a longer name (@hereford). An underscore
// after it counts as an end: Text escapes it ("@all\_"), and a tool that
// reads the escaped text sees the word alone.
func massMention(rest string) bool {
	for _, m := range []string{"everyone", "here", "channel", "all"} {
		if len(rest) >= len(m) && strings.EqualFold(rest[:len(m)], m) {
			if len(rest) == len(m) {
				return true
			}
			c := rest[len(m)]
			if !(c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return true
			}
		}
	}
	return false
}

// inline puts text on one line: every run of white space holding a line
// break (or any control character) becomes one space, and the ends are
// trimmed. A line break inside a list item, heading or cell would end it.
func inline(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || unicode.IsControl(r) }) {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}

// codeBlock writes text as a fenced code block, with a fence longer than
// any run of backticks inside it.
func codeBlock(b *strings.Builder, text string) {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	text = strings.TrimRight(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	fmt.Fprintf(b, "%shcl\n%s\n%s\n\n", fence, text, fence)
}

// codeSpan puts text in an inline code span: on one line (a line break
// would end the span and let the rest read as Markdown), fenced by more
// backticks than it holds in a row.
func codeSpan(s string) string {
	s = inline(s)
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return fence + s + fence
}

func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// label shows a status or other enum value as words: in_progress → in progress.
func label(s string) string { return strings.ReplaceAll(s, "_", " ") }

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// num shows a number with at most two decimals.
func num(f float64) string {
	f = math.Round(f*100) / 100
	if f == 0 {
		f = 0 // no "-0"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func numPtr(f *float64) string {
	if f == nil {
		return "—"
	}
	return num(*f)
}

// delta shows a change with its sign and an arrow: ▲ +0.5, ▼ -0.25, = 0.
func delta(d *float64) string {
	if d == nil {
		return "—"
	}
	v := num(*d)
	switch {
	case v == "0":
		return "= 0"
	case strings.HasPrefix(v, "-"):
		return "▼ " + v
	default:
		return "▲ +" + v
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
