package model

import (
	"errors"
	"testing"
)

func TestNormaliseText(t *testing.T) {
	for in, want := range map[string]string{
		"  plain  ":                   "  plain",
		"\n\n  indented\n  text \n\n": "  indented\n  text",
		"a \r\nb\t\r\n\r\n":           "a\nb",
		"line one  \nline two\t\n ":   "line one\nline two",
		"old mac\rline":               "old mac\nline",
	} {
		if got := NormaliseText(in); got != want {
			t.Errorf("NormaliseText(%q) = %q, want %q", in, got, want)
		}
		if got := NormaliseText(NormaliseText(in)); got != want {
			t.Errorf("normalising %q twice = %q", in, got)
		}
	}
}

func TestSetField(t *testing.T) {
	var r Risk
	for f, v := range map[string]string{"title": " T ", "status": "In Progress", "kind": "Opportunity", "likelihood": "4", "effort": "1.5", "description": "x \r\ny "} {
		if known, err := r.SetField(f, v); !known || err != nil {
			t.Fatalf("SetField(%s, %q) = %v, %v", f, v, known, err)
		}
	}
	if r.Title != "T" || r.Status != InProgress || r.Kind != Opportunity || r.Likelihood != 4 || r.Effort != 1.5 || r.Description != "x\ny" {
		t.Errorf("risk = %+v", r)
	}
	var fe *FieldError
	if _, err := r.SetField("impact", "high"); !errors.As(err, &fe) || fe.Field != "impact" || r.Impact != 0 {
		t.Errorf("impact high: err %v, impact %d", err, r.Impact)
	}
	if known, _ := r.SetField("key", "R-9"); known || r.Key != "" {
		t.Errorf("the key is not SetField's to set")
	}
}

// CopyFields copies every editable field it names and nothing else: the
// key, the id and the fields not named stay.
func TestCopyFields(t *testing.T) {
	from := Risk{ID: "other", Key: "R-9", Title: "t", Description: "d", Kind: Opportunity, Process: Change, Source: "s",
		Owner: "o", Status: Accepted, Likelihood: 5, Impact: 4, Effort: 2.5}
	r := NewRisk("i")
	r.ID, r.Key = "id", "R-1"
	r.CopyFields(&from, "title", "description", "kind", "process", "source", "owner", "status", "likelihood", "impact", "effort", "key", "id")
	want := from
	want.ID, want.Key, want.Initiative = "id", "R-1", "i"
	if r != want {
		t.Fatalf("CopyFields copied\n%+v\nwant\n%+v", r, want)
	}
	r = NewRisk("i")
	r.CopyFields(&from, "impact")
	if r.Impact != 4 || r.Likelihood != DefaultLikelihood || r.Title != "" {
		t.Fatalf("CopyFields(impact) gave %+v", r)
	}
}

// A field's text form reads back as the same value.
func TestFieldReadsBack(t *testing.T) {
	tenth, fifth := 0.1, 0.2
	r := Risk{Title: "t", Description: "d", Kind: Opportunity, Process: Change, Source: "s", Owner: "o",
		Status: InProgress, Likelihood: 5, Impact: 2, Effort: tenth + fifth}
	for _, f := range []string{"title", "description", "kind", "process", "source", "owner", "status", "likelihood", "impact", "effort"} {
		var back Risk
		if known, err := back.SetField(f, r.Field(f)); !known || err != nil {
			t.Fatalf("SetField(%s, %q): %v, %v", f, r.Field(f), known, err)
		}
		if back.Field(f) != r.Field(f) {
			t.Errorf("%s: %q read back as %q", f, r.Field(f), back.Field(f))
		}
	}
	if r.Field("effort") != "0.30000000000000004" {
		t.Errorf("effort text %q", r.Field("effort"))
	}
}
