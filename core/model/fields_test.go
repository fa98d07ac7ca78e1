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
