package priority

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/usmhub/usmhub/core/model"
)

// diagText renders diagnostics as "line,col-col: summary: detail" lines.
func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		if d.Subject != nil {
			fmt.Fprintf(&b, "%d,%d-%d: ", d.Subject.Start.Line, d.Subject.Start.Column, d.Subject.End.Column)
		}
		fmt.Fprintf(&b, "%s: %s\n", d.Summary, d.Detail)
	}
	return b.String()
}

func TestCompile(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		diags string
	}{
		{name: "product", text: "likelihood * impact"},
		{name: "functions", text: "max(1, likelihood * impact + votes) / pow(max(effort, 1), 0.5) + floor(age_days / 30) + ceil(abs(-1)) + min(log(8, 2), 3)"},
		{name: "conditional", text: `kind == "threat" ? likelihood * impact : impact + votes`},
		{name: "strings", text: `process == "improve" || source == "scan" ? 2 : 1`},
		{
			name:  "unknown attribute",
			text:  "likelihood * urgency",
			diags: `1,14-21: Unknown attribute in priority policy: "urgency" is not an attribute of a risk; use one of: likelihood, impact, effort, votes, kind, process, source, age_days.` + "\n",
		},
		{
			name: "two unknown attributes",
			text: "risk.likelihood + var.x",
			diags: `1,1-16: Unknown attribute in priority policy: "risk" is not an attribute of a risk; use one of: likelihood, impact, effort, votes, kind, process, source, age_days.` + "\n" +
				`1,19-24: Unknown attribute in priority policy: "var" is not an attribute of a risk; use one of: likelihood, impact, effort, votes, kind, process, source, age_days.` + "\n",
		},
		{
			name:  "string",
			text:  `"high"`,
			diags: `1,1-7: Priority policy must yield a number: For a sample risk (likelihood=3, impact=3, effort=1, votes=0, kind="threat", process="improve", source="scan", age_days=30) the score expression yields a string; write an expression that yields a number, e.g. likelihood * impact / max(effort, 1).` + "\n",
		},
		{
			name:  "bool",
			text:  `kind == "threat"`,
			diags: `1,1-17: Priority policy must yield a number: For a sample risk (likelihood=3, impact=3, effort=1, votes=0, kind="threat", process="improve", source="scan", age_days=30) the score expression yields a bool; write an expression that yields a number, e.g. likelihood * impact / max(effort, 1).` + "\n",
		},
		{
			name:  "null",
			text:  `null`,
			diags: `1,1-5: Priority policy must yield a number: For a sample risk (likelihood=3, impact=3, effort=1, votes=0, kind="threat", process="improve", source="scan", age_days=30) the score expression yields null; write an expression that yields a number, e.g. likelihood * impact / max(effort, 1).` + "\n",
		},
		{
			name:  "unknown function",
			text:  `sqrt(impact)`,
			diags: "1,1-5: Call to unknown function: There is no function named \"sqrt\".\n",
		},
		{
			name:  "type error",
			text:  `kind * 2`,
			diags: "1,1-5: Invalid operand: Unsuitable value for left operand: a number is required.\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, diags := Parse("test", "a test", tt.text)
			if diff := cmp.Diff(tt.diags, diagText(diags)); diff != "" {
				t.Fatalf("diagnostics (-want +got):\n%s", diff)
			}
			if tt.diags != "" {
				if p != nil {
					t.Fatalf("Compile returned a policy with errors")
				}
				return
			}
			if p.Text != tt.text || p.Name != "test" || p.Description != "a test" {
				t.Fatalf("policy = %q %q %q", p.Name, p.Description, p.Text)
			}
		})
	}
}

func TestTextIsSourceAsWritten(t *testing.T) {
	src := []byte("score = likelihood   *impact # comment\n")
	p, diags := Parse("x", "", string(src[8:29]))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if want := "likelihood   *impact"; p.Text != want {
		t.Fatalf("Text = %q, want %q", p.Text, want)
	}
}

func TestScore(t *testing.T) {
	in := Inputs{Likelihood: 4, Impact: 5, Effort: 2, Votes: 3, Kind: "opportunity", Process: "change", Source: "csv", AgeDays: 45}
	tests := []struct {
		text string
		in   Inputs
		want float64
		err  string
	}{
		{text: "likelihood * impact / effort + votes", in: in, want: 13},
		{text: `kind == "threat" ? 100 : 1`, in: in, want: 1},
		{text: `process == "change" && source == "csv" ? age_days : 0`, in: in, want: 45},
		{text: "effort", in: Inputs{Effort: 0.25}, want: 0.25},
		{text: "effort * 2", in: Inputs{Effort: 2000}, want: 4000},
		{text: "votes - 2000", in: Inputs{Votes: -5}, want: -2005},
		{text: `source == "jira-import" ? 7 : 0`, in: Inputs{Source: "jira-import"}, want: 7},
		{text: "pow(2, likelihood)", in: in, want: 16},
		{
			text: "impact / effort", in: Inputs{Likelihood: 1, Impact: 2, Kind: "threat"},
			err: `priority policy "test": cannot score a risk with likelihood=1, impact=2, effort=0, votes=0, kind="threat", process="", source="", age_days=0: the score is infinite (a division by zero?)`,
		},
		{
			text: "votes / effort", in: Inputs{},
			err: `priority policy "test": cannot score a risk with likelihood=0, impact=0, effort=0, votes=0, kind="", process="", source="", age_days=0: Operation failed: Error during operation: can't divide zero by zero or infinity by infinity.`,
		},
		{
			text: "log(votes, 2)", in: Inputs{Likelihood: 1, Impact: 1},
			err: `priority policy "test": cannot score a risk with likelihood=1, impact=1, effort=0, votes=0, kind="", process="", source="", age_days=0: the score is infinite (a division by zero?)`,
		},
		{
			text: `kind == "threat" ? 1 : null`, in: Inputs{Kind: "opportunity"},
			err: `priority policy "test": cannot score a risk with likelihood=0, impact=0, effort=0, votes=0, kind="opportunity", process="", source="", age_days=0: the expression yields null, not a number`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			p, diags := Parse("test", "", tt.text)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			got, err := p.Score(tt.in)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tt.err, gotErr); diff != "" {
				t.Fatalf("error (-want +got):\n%s", diff)
			}
			if got != tt.want {
				t.Fatalf("Score = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestScoreConcurrent(t *testing.T) {
	p, diags := Parse("test", "", "likelihood * impact + votes")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func(g int) {
			for i := 0; i < 2000; i++ {
				in := Inputs{Likelihood: g, Impact: i % 5, Votes: i}
				s, err := p.Score(in)
				if err == nil && s != float64(g*(i%5)+i) {
					err = fmt.Errorf("Score(%v) = %v", in, s)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func TestInputsOf(t *testing.T) {
	now := time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	r := model.Risk{
		Kind: model.Opportunity, Process: model.Operate, Source: "scan",
		Likelihood: 2, Impact: 4, Effort: 1.5, Votes: 7,
		CreatedAt: now.Add(-(10*24*time.Hour + time.Hour)),
	}
	want := Inputs{Likelihood: 2, Impact: 4, Effort: 1.5, Votes: 7, Kind: "opportunity", Process: "operate", Source: "scan", AgeDays: 10}
	if diff := cmp.Diff(want, InputsOf(r, now)); diff != "" {
		t.Errorf("InputsOf (-want +got):\n%s", diff)
	}
	r.CreatedAt = time.Time{}
	if got := InputsOf(r, now).AgeDays; got != 0 {
		t.Errorf("AgeDays without CreatedAt = %d, want 0", got)
	}
	r.CreatedAt = now.Add(time.Hour)
	if got := InputsOf(r, now).AgeDays; got != 0 {
		t.Errorf("AgeDays of a future risk = %d, want 0", got)
	}
}

func BenchmarkScore(b *testing.B) {
	p, diags := Parse("bench", "", `(kind == "threat" ? likelihood * impact : impact + 1) * (1 + votes / 10) / max(effort, 0.5) + min(age_days, 90) / 30`)
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	ins := make([]Inputs, 64)
	for i := range ins {
		ins[i] = Inputs{Likelihood: 1 + i%5, Impact: 1 + i/5%5, Effort: float64(i%8) / 2, Votes: i % 7, Kind: []string{"threat", "opportunity"}[i%2], Process: "change", Source: "scan", AgeDays: i * 3}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Score(ins[i%len(ins)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scores/s")
}
