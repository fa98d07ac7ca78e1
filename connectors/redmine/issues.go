package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// issue is an issue as Redmine's JSON gives it.
type issue struct {
	ID           int       `json:"id"`
	Project      named     `json:"project"`
	Tracker      named     `json:"tracker"`
	Status       named     `json:"status"`
	AssignedTo   *named    `json:"assigned_to"`
	FixedVersion *named    `json:"fixed_version"`
	Subject      string    `json:"subject"`
	Description  *string   `json:"description"`
	CustomFields []cfValue `json:"custom_fields"`
	UpdatedOn    time.Time `json:"updated_on"`
}

// cfValue is one custom field value of an issue. Value is a string, null or
// (for multiple-value fields) a list.
type cfValue struct {
	ID    int             `json:"id"`
	Name  string          `json:"name"`
	Value json.RawMessage `json:"value"`
}

// text returns a custom field value as text (a list joined with ", ").
func (v cfValue) text() string {
	var s string
	if json.Unmarshal(v.Value, &s) == nil {
		return s
	}
	var list []string
	if json.Unmarshal(v.Value, &list) == nil {
		return strings.Join(list, ", ")
	}
	return ""
}

// cf finds the value of the custom field ref (a name or an id) on the
// issue; ok is false when the issue does not have that field.
func (is *issue) cf(ref string) (string, bool) {
	if ref == "" {
		return "", false
	}
	id, _ := strconv.Atoi(ref)
	for _, v := range is.CustomFields {
		if (id > 0 && v.ID == id) || strings.EqualFold(v.Name, ref) {
			return v.text(), true
		}
	}
	return "", false
}

// normText is the SDK's canonical text (sdk.NormaliseText). Redmine
// stores \r\n; a value pulled back and pushed again is unchanged.
func normText(s string) string { return sdk.NormaliseText(s) }

// normLine is a one-line value: trimmed, inner line breaks as spaces.
func normLine(s string) string {
	return strings.TrimSpace(strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", "")), " "))
}

// normInt and normNumber spell numbers as the hub does ("4", "0.5").
func normInt(s string) string {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return strconv.Itoa(n)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int(f)) {
		return strconv.Itoa(int(f))
	}
	return s
}

func normNumber(s string) string {
	s = strings.TrimSpace(s)
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}

// riskRecord turns an issue into a canonical risk record. Fields whose
// custom field the connector does not use, or that are empty where the hub
// needs a number, are left out: the hub then keeps (or defaults) its own.
// So is the owner of an unassigned issue: owners are Redmine logins, and a
// hub owner no Redmine user has (a name, a team) stays the hub's.
func (c *Connector) riskRecord(ctx context.Context, cfg *config, api *client, md *metadata, is *issue) (sdk.Record, error) {
	rec := issueRecord(cfg, is)
	if a := is.AssignedTo; a != nil {
		login, err := md.login(ctx, api, a.ID)
		if err != nil {
			return sdk.Record{}, err
		}
		if login == "" {
			login = a.Name // a group
		}
		rec.Fields[sdk.FieldOwner] = login
	}
	return rec, nil
}

// issueRecord is riskRecord without the owner, which takes a look-up of
// the assignee's login; its Version is already complete (it digests the
// assignee's id).
func issueRecord(cfg *config, is *issue) sdk.Record {
	f := map[string]string{
		sdk.FieldTitle:  normLine(is.Subject),
		sdk.FieldStatus: is.Status.Name,
	}
	if is.Description != nil {
		f[sdk.FieldDescription] = normText(*is.Description)
	} else {
		f[sdk.FieldDescription] = ""
	}
	for _, def := range customFields[1:] {
		v, ok := is.cf(cfg.cfRef(def.canonical))
		if !ok {
			continue
		}
		switch def.canonical {
		case sdk.FieldLikelihood, sdk.FieldImpact:
			if v = normInt(v); v == "" {
				continue
			}
		case sdk.FieldEffort:
			if v = normNumber(v); v == "" {
				continue
			}
		case sdk.FieldKind:
			if v = strings.ToLower(normLine(v)); v == "" {
				continue
			}
		case sdk.FieldProcess:
			v = strings.ToLower(normLine(v))
		default:
			v = normLine(v)
		}
		f[def.canonical] = v
	}
	marker, _ := is.cf(cfg.cfRef(""))
	marker = strings.TrimSpace(marker)
	assignee := 0
	if is.AssignedTo != nil {
		assignee = is.AssignedTo.ID
	}
	return sdk.Record{
		ExternalID: strconv.Itoa(is.ID),
		Version:    recordVersion(f, assignee, marker),
		UpdatedAt:  is.UpdatedOn.UTC(),
		Marker:     marker,
		Fields:     f,
	}
}

// recordVersion is an issue's version as the hub sees it: a digest of its
// canonical fields and marker. Redmine's updated_on keeps only seconds (two
// changes in one second would share it) and moves for changes the hub does
// not see (a note, the target version); the digest changes exactly when
// what the hub syncs changes, which is what stale-update checks and echo
// suppression need.
func recordVersion(f map[string]string, assignee int, marker string) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s=%q\n", k, f[k])
	}
	fmt.Fprintf(h, "assignee=%d\nmarker=%q\n", assignee, marker)
	return "c" + hex.EncodeToString(h.Sum(nil))[:16]
}
