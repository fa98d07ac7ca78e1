package report

import (
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usmhub/usmhub/core/model"
)

// cells counts the cells of a table line: its pipes not escaped by a
// backslash, less one.
func cells(line string) int {
	n := 0
	for i := 0; i < len(line); i++ {
		if line[i] == '|' && (i == 0 || line[i-1] != '\\') {
			n++
		}
	}
	return n - 1
}

func TestTableEscaping(t *testing.T) {
	var b strings.Builder
	table(&b, []string{"A|B", "Note"}, "lr", [][]string{
		{"a | b", "one\ntwo"},
		{"||", "three\r\n\r\n  four\tfive"},
		{"", "trailing |"},
		{`back\|slash\\`, `\\|`},
		{"short row"},
	})
	want := `| A\|B | Note |
| --- | ---: |
| a \| b | one two |
| \|\| | three four five |
| | trailing \| |
| back\\\|slash\\\\ | \\\\\| |
| short row | |

`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestInline(t *testing.T) {
	cases := map[string]string{
		"plain":                 "plain",
		"  padded  ":            "padded",
		"two\nlines":            "two lines",
		"win\r\ndows\r\n":       "win dows",
		"gap\n\n\tand  spaces":  "gap and spaces",
		"bell\a and\x00 nul":    "bell and nul",
		"keep  double  spaces ": "keep  double  spaces",
	}
	for in, want := range cases {
		if got := inline(in); got != want {
			t.Errorf("inline(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCodeBlockFence(t *testing.T) {
	var b strings.Builder
	codeBlock(&b, "kind == \"`x```\" ? 1 : 2\n")
	want := "````hcl\nkind == \"`x```\" ? 1 : 2\n````\n\n"
	if b.String() != want {
		t.Errorf("codeBlock = %q, want %q", b.String(), want)
	}
}

func TestNumbers(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		got, want string
	}{
		{num(2.8 - 2.1), "0.7"},
		{num(-0.001), "0"},
		{num(1.0 / 3), "0.33"},
		{num(12), "12"},
		{delta(f(2.8 - 2.1)), "▲ +0.7"},
		{delta(f(1.6 - 1.8)), "▼ -0.2"},
		{delta(f(0.004)), "= 0"},
		{delta(nil), "—"},
		{numPtr(nil), "—"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

// TestMarkdownTablesHoldTogether builds every report of a risk database
// whose texts are full of pipes and line breaks, and checks that every
// table row keeps its header's number of cells.
func TestMarkdownTablesHoldTogether(t *testing.T) {
	cfg := loadConfig(t)
	in, _ := cfg.Initiative("ssc")
	mem := newMemStore()
	if err := seed(mem, cfg); err != nil {
		t.Fatal(err)
	}
	nasty := "a | b\n| c |\r\nd\\|e"
	if err := mem.CreateRisk(&model.Risk{Initiative: "ssc", Kind: model.Threat, Title: nasty, Likelihood: 5, Impact: 5, Effort: 1}); err != nil {
		t.Fatal(err)
	}
	if err := mem.CreateScan(&model.Scan{Initiative: "ssc", Kind: model.Progress, Method: "USM maturity scan", MethodVersion: "2.0",
		TakenOn: "2026-10-06", Scores: []model.ScanScore{{Dimension: nasty, Score: 1}}, Findings: []string{nasty}}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range Kinds {
		r, err := Build(kind, Input{Config: cfg, Initiative: in, Reader: mem, Now: now}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		md := r.Markdown()
		header := -1
		for _, line := range strings.Split(md, "\n") {
			if !strings.HasPrefix(line, "|") {
				header = -1
				if strings.HasPrefix(line, "| c") || strings.HasPrefix(line, "d\\") {
					t.Errorf("%s: a line break escaped its cell or list item: %q", kind, line)
				}
				continue
			}
			if header < 0 {
				header = cells(line)
				continue
			}
			if n := cells(line); n != header {
				t.Errorf("%s: row %q has %d cells, the header %d", kind, line, n, header)
			}
		}
		if kind == KindRegister && !strings.Contains(md, `| a \| b \| c \| d\\\|e |`) {
			t.Errorf("register: the nasty title is not escaped as expected:\n%s", md)
		}
		// The totals are bold, not escaped into asterisks shown as text.
		if kind == KindRegister && (!regexp.MustCompile(`(?m)^\| \*\*Total\*\* \| \*\*\d+\*\* \|$`).MatchString(md) || strings.Contains(md, `\*\*`)) {
			t.Errorf("register: the total rows are not in bold:\n%s", md)
		}
	}
}

// Text from people and tools shows as written and does nothing else in a
// ticket: no HTML, no link but the http(s) and mail addresses renderers
// link by themselves, no mass mention.
func TestTextNeutralisesHostileInput(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`<script>alert(1)</script>`, `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{`<img src=x onerror=alert(1)>`, `&lt;img src=x onerror=alert(1)&gt;`},
		{`[click](javascript:alert(1))`, `\[click\](javascript:alert(1))`},
		{`![x](http://evil.example/t.png)`, `\!\[x\](http://evil.example/t.png)`},
		{`<javascript:alert(1)>`, `&lt;javascript:alert(1)&gt;`},
		{`@everyone look`, "@\u200beveryone look"},
		{`@Here, @channel! @all`, "@\u200bHere, @\u200bchannel\\! @\u200ball"},
		{`@hereford @alice`, `@hereford @alice`},
		{`@all_hands`, "@\u200ball\\_hands"}, // escaped, the word stands alone
		{"**bold** `code` ~~x~~ _e_ \\", "\\*\\*bold\\*\\* \\`code\\` \\~\\~x\\~\\~ \\_e\\_ \\\\"},
		{"&amp; <!-- c -->", "&amp;amp; &lt;\\!-- c --&gt;"},
		{"see https://example.org/a_b", "see https://example.org/a\\_b"},
	} {
		if got := Text(tt.in); got != tt.want {
			t.Errorf("Text(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzText(f *testing.F) {
	for _, s := range []string{"<script>", "[a](javascript:x)", "@everyone", "a|b\\", "`x`", "&lt;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := cell(s)
		if strings.ContainsAny(got, "<>\n\r") {
			t.Errorf("cell(%q) = %q holds a tag character or a line break", s, got)
		}
		for i := 0; i < len(got); i++ {
			switch got[i] {
			case '\\':
				i++ // an escape and what it escapes
			case '[', ']', '`', '*', '_', '|':
				t.Errorf("cell(%q) = %q has an unescaped %q", s, got, got[i])
			}
		}
		if massMentionRE.MatchString(got) {
			t.Errorf("cell(%q) = %q mentions everyone", s, got)
		}
	})
}
