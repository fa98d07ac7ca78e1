package report

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/usmhub/usmhub/core/model"
)

// fuzzReport is a register report whose texts are the fuzzer's: the
// title, initiative, policy, risk keys, titles, owners, processes, affected
// items and counts' names, as a tool or an import could have stored them.
func fuzzReport(a, b, c string) *Report {
	score := 4.5
	return &Report{
		Kind: KindRegister, Key: "register-" + a, Title: "Register " + a, Initiative: b, InitiativeName: c,
		GeneratedAt: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC),
		Register: &RegisterReport{
			Week: "2026-W49", Policy: a, PolicyText: b, TopN: 2, Total: 2, Open: 2, ScoreError: c,
			Top: []RankedRisk{
				{Rank: 1, Key: a, Title: b, Kind: model.Threat, Process: model.Process(c), Status: model.Proposed, Likelihood: 3, Impact: 4, Owner: c, Score: &score, Affects: []string{a, c}},
				{Rank: 2, Key: c, Title: a, Kind: model.Opportunity, Status: model.Accepted, Likelihood: 1, Impact: 5, Owner: b},
			},
			ByStatus:  []Count{{Name: a, Count: 1}, {Name: "proposed", Count: 1}},
			ByProcess: []Count{{Name: b, Count: 2}},
		},
	}
}

// markdownLink finds the targets of Markdown links and images (a "]" not
// escaped, then "(").
var markdownLink = regexp.MustCompile(`(?:^|[^\\])\]\(([^)]*)\)`)

// massMentionRE finds a mention of everyone as chat tools read it: the
// word alone, not the start of a longer name (@everyone0, @hereford).
var massMentionRE = regexp.MustCompile(`(?i)@(everyone|here|channel|all)($|[^-_0-9a-z])`)

// inlineCode matches a code span.
var inlineCode = regexp.MustCompile("`+[^`]*`+")

// outsideCode returns the Markdown's text outside code blocks and spans,
// where a tool turns mentions and links into what they say.
func outsideCode(md string) string {
	var b strings.Builder
	fenced := false
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			b.WriteString(inlineCode.ReplaceAllString(line, "") + "\n")
		}
	}
	return b.String()
}

// FuzzReportEscaping renders a register report with any texts as HTML (as
// a page with linked keys and as the self-contained file) and as Markdown.
// The HTML must hold no element, attribute or URL the texts did not get
// from the template: no script, no event handler, no link or source other
// than the page's own (#…, the risk pages) or http(s)/mailto, and exactly
// the template's style and meta elements; the Markdown no link to another scheme and
// no mass mention.
func FuzzReportEscaping(f *testing.F) {
	for _, s := range [][3]string{
		{"R-1", "INI", "Initiative"},
		{"<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "javascript:alert(1)"},
		{"[x](javascript:alert(1))", "@everyone", "<style>*{}</style>"},
		{"</textarea><svg onload=1>", "' onmouseover='x", "&lt;script&gt;"},
		{"R-1\"/onclick=\"x", "data:text/html,<b>", "<a href=\"vbscript:x\">"},
		{"\x00\xff", "{{.}}", "<!--"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	styles := countStyles(f, fuzzReport("a", "b", "c").HTML())
	f.Fuzz(func(t *testing.T, a, b, c string) {
		r := fuzzReport(a, b, c)
		checkMarkup(t, r.HTML(), styles, a, b, c)
		checkMarkup(t, string(r.HTMLBody(HTMLOptions{RiskURL: "/risks/{key}", IDPrefix: "x"})), 0, a, b, c)
		md := outsideCode(r.Markdown())
		for _, m := range markdownLink.FindAllStringSubmatch(md, -1) {
			if !safeTarget(m[1]) {
				t.Errorf("Markdown links to %q (texts %q %q %q)", m[1], a, b, c)
			}
		}
		if m := massMentionRE.FindString(md); m != "" {
			t.Errorf("Markdown mentions everyone: %q (texts %q %q %q)", m, a, b, c)
		}
	})
}

// countStyles counts the style and meta elements of a page: the
// template's own, which no text may add to.
func countStyles(tb testing.TB, page string) int {
	n := 0
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return n
		case html.StartTagToken:
			if name, _ := z.TagName(); string(name) == "style" || string(name) == "meta" {
				n++
			}
		}
	}
}

// checkMarkup fails t when page holds markup the texts brought in.
func checkMarkup(t *testing.T, page string, styles int, texts ...string) {
	t.Helper()
	seen := 0
	z := html.NewTokenizer(strings.NewReader(page))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		name, more := z.TagName()
		switch string(name) {
		case "script", "iframe", "object", "embed", "img", "base", "form", "link":
			t.Fatalf("a %s element (texts %q)", name, texts)
		case "style", "meta":
			seen++
		}
		for more {
			var k, v []byte
			k, v, more = z.TagAttr()
			key := strings.ToLower(string(k))
			if strings.HasPrefix(key, "on") {
				t.Fatalf("an event handler %s=%q (texts %q)", key, v, texts)
			}
			if (key == "href" || key == "src" || key == "xlink:href" || key == "action") && !safeTarget(string(v)) {
				t.Fatalf("%s=%q (texts %q)", key, v, texts)
			}
		}
	}
	if seen != styles {
		t.Fatalf("%d style and meta elements, the template has %d (texts %q)", seen, styles, texts)
	}
}

// safeTarget reports whether a link target is the page's own or an
// http(s) or mailto URL.
func safeTarget(u string) bool {
	u = strings.TrimSpace(strings.ToLower(u))
	for _, ok := range []string{"#", "/risks/", "http://", "https://", "mailto:"} {
		if strings.HasPrefix(u, ok) {
			return !strings.HasPrefix(u, "//")
		}
	}
	return false
}
