package model

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// NormaliseText gives text its canonical form: \n line ends, no blanks at
// the end of a line, no blank lines before or after the text; indentation
// stays (it means something in Markdown). Normalising twice changes
// nothing, so a value pushed to a tool, pulled and pushed again stays put
// however the tool stored it.
func NormaliseText(s string) string {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	for len(lines) > 0 && lines[0] == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

// SetField sets one of a risk's fields from its text form, as inventories
// and tools spell it: title, description, kind, process, source, owner,
// status ("In Progress" is in_progress), likelihood, impact (whole numbers)
// and effort (a number). It reports whether field is one of those; a value
// it cannot read is a *FieldError and leaves the risk as it was. The values
// themselves are checked by Validate, the status move by CheckTransition.
// The key is not set here: only the hub and imports assign keys.
func (r *Risk) SetField(field, value string) (known bool, err error) {
	v := strings.TrimSpace(value)
	switch field {
	case "title":
		r.Title = v
	case "description":
		r.Description = NormaliseText(value)
	case "kind":
		r.Kind = Kind(strings.ToLower(v))
	case "process":
		r.Process = Process(strings.ToLower(v))
	case "source":
		r.Source = v
	case "owner":
		r.Owner = v
	case "status":
		r.Status = Status(strings.ReplaceAll(strings.ToLower(v), " ", "_"))
	case "likelihood", "impact":
		n, err := strconv.Atoi(v)
		if err != nil {
			return true, &FieldError{Field: field, Msg: fmt.Sprintf("must be a whole number 1 to 5, not %q", v)}
		}
		if field == "likelihood" {
			r.Likelihood = n
		} else {
			r.Impact = n
		}
	case "effort":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return true, &FieldError{Field: field, Msg: fmt.Sprintf("must be a number of 0 or more, not %q", v)}
		}
		r.Effort = f
	default:
		return false, nil
	}
	return true, nil
}

// Field is one of a risk's fields (as SetField names them) in the text
// form the audit trail records: whole numbers in decimal, the effort as
// the shortest decimal that reads back the same. Other names give "".
func (r *Risk) Field(field string) string {
	switch field {
	case "title":
		return r.Title
	case "description":
		return r.Description
	case "kind":
		return string(r.Kind)
	case "process":
		return string(r.Process)
	case "source":
		return r.Source
	case "likelihood":
		return strconv.Itoa(r.Likelihood)
	case "impact":
		return strconv.Itoa(r.Impact)
	case "effort":
		return strconv.FormatFloat(r.Effort, 'g', -1, 64)
	case "owner":
		return r.Owner
	case "status":
		return string(r.Status)
	}
	return ""
}

// CopyFields sets each named field of r (title, description, kind,
// process, source, owner, status, likelihood, impact, effort) to its value
// in from; other names, the key among them, change nothing. It is the one
// way a change of fields reaches a risk: a person's edit, an inventory's
// row. The values are checked by Validate, the status move by
// CheckTransition.
func (r *Risk) CopyFields(from *Risk, fields ...string) {
	for _, f := range fields {
		switch f {
		case "title":
			r.Title = from.Title
		case "description":
			r.Description = from.Description
		case "kind":
			r.Kind = from.Kind
		case "process":
			r.Process = from.Process
		case "source":
			r.Source = from.Source
		case "likelihood":
			r.Likelihood = from.Likelihood
		case "impact":
			r.Impact = from.Impact
		case "effort":
			r.Effort = from.Effort
		case "owner":
			r.Owner = from.Owner
		case "status":
			r.Status = from.Status
		}
	}
}
