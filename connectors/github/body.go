package main

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// An issue's body is what a person wrote (the risk's description), then a
// collapsed block holding the risk's other fields, then the hub marker in
// an HTML comment:
//
//	The service desk reopens a third of its incidents.
//
//	<details><summary>USM risk R-12</summary>
//
//	- key: R-12
//	- process: operate
//	- source: baseline scan
//	- likelihood: 4
//	- impact: 3
//	- effort: 2
//
//	</details>
//	<!-- usmhub-marker: usmhub-0190… -->
//
// GitHub shows the block folded ("▸ USM risk R-12") and never the comment;
// the web UI's editor keeps both. A person may edit a value in the block
// (the next pull takes it), reorder or reformat its lines ("* impact = 3"
// reads too), or delete a line (the hub keeps its value and writes it back
// on its next push of that risk). Text written after the block is part of
// the description.

var (
	markerRE  = regexp.MustCompile(`<!--\s*usmhub-marker:\s*(usmhub-[^\s>]+)\s*-->`)
	blockRE   = regexp.MustCompile(`(?is)<details>\s*<summary>\s*USM risk[^<]*</summary>(.*?)</details>`)
	blockLine = regexp.MustCompile(`(?i)^\s*(?:[-*+]\s*)?(key|process|source|likelihood|impact|effort)\s*[:=]\s*(.*?)\s*$`)
)

// blockFields are the risk fields kept in the body's block, in its order.
var blockFields = []string{sdk.FieldKey, sdk.FieldProcess, sdk.FieldSource, sdk.FieldLikelihood, sdk.FieldImpact, sdk.FieldEffort}

// parsedBody is an issue body taken apart.
type parsedBody struct {
	description string
	fields      map[string]string // from the block; absent lines absent
	marker      string
}

func parseBody(body string) parsedBody {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	p := parsedBody{fields: map[string]string{}}
	if m := markerRE.FindStringSubmatch(body); m != nil {
		p.marker = m[1]
	}
	rest := markerRE.ReplaceAllString(body, "")
	if locs := blockRE.FindAllStringSubmatchIndex(rest, -1); len(locs) > 0 {
		loc := locs[len(locs)-1]
		for _, line := range strings.Split(rest[loc[2]:loc[3]], "\n") {
			if m := blockLine.FindStringSubmatch(line); m != nil {
				p.fields[strings.ToLower(m[1])] = m[2]
			}
		}
		rest = rest[:loc[0]] + rest[loc[1]:]
	}
	p.description = normText(rest)
	return p
}

// renderBody writes a body from the description, the block's fields and
// the marker.
func renderBody(description string, fields map[string]string, marker string) string {
	var b strings.Builder
	if d := normText(description); d != "" {
		b.WriteString(d)
		b.WriteString("\n\n")
	}
	b.WriteString("<details><summary>USM risk")
	if k := normLine(fields[sdk.FieldKey]); k != "" {
		b.WriteString(" " + k)
	}
	b.WriteString("</summary>\n\n")
	for _, f := range blockFields {
		if v, ok := fields[f]; ok && canon(f, v) != "" {
			b.WriteString("- " + f + ": " + canon(f, v) + "\n")
		}
	}
	b.WriteString("\n</details>\n")
	if marker != "" {
		b.WriteString("<!-- usmhub-marker: " + marker + " -->\n")
	}
	return b.String()
}

// normText is the SDK's canonical text (sdk.NormaliseText).
func normText(s string) string { return sdk.NormaliseText(s) }

// normLine is a one-line value: trimmed, inner line breaks as spaces.
func normLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// canon is a risk field's value as the connector stores and compares it.
func canon(field, v string) string {
	switch field {
	case sdk.FieldDescription:
		return normText(v)
	case sdk.FieldLikelihood, sdk.FieldImpact:
		s := strings.TrimSpace(v)
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int(f)) {
			return strconv.Itoa(int(f))
		}
		return s
	case sdk.FieldEffort:
		s := strings.TrimSpace(v)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return strconv.FormatFloat(f, 'f', -1, 64)
		}
		return s
	case sdk.FieldKind, sdk.FieldProcess:
		return strings.ToLower(normLine(v))
	case sdk.FieldStatus, sdk.FieldOwner:
		return strings.TrimSpace(v)
	}
	return normLine(v)
}
