package reconcile

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
)

// riskFields are the canonical fields of a risk, in a stable order.
var riskFields = []string{connector.FieldKey, connector.FieldTitle, connector.FieldDescription, connector.FieldKind, connector.FieldProcess,
	connector.FieldSource, connector.FieldLikelihood, connector.FieldImpact, connector.FieldEffort, connector.FieldOwner, connector.FieldStatus}

// RiskFields returns a risk's canonical fields as the protocol carries them.
func RiskFields(r model.Risk) map[string]string {
	return map[string]string{
		connector.FieldKey:         r.Key,
		connector.FieldTitle:       r.Title,
		connector.FieldDescription: normalise(r.Description),
		connector.FieldKind:        string(r.Kind),
		connector.FieldProcess:     string(r.Process),
		connector.FieldSource:      r.Source,
		connector.FieldLikelihood:  strconv.Itoa(r.Likelihood),
		connector.FieldImpact:      strconv.Itoa(r.Impact),
		connector.FieldEffort:      strconv.FormatFloat(r.Effort, 'f', -1, 64),
		connector.FieldOwner:       r.Owner,
		connector.FieldStatus:      string(r.Status),
	}
}

// normalise makes text compare equal however a tool stored it.
func normalise(s string) string { return model.NormaliseText(s) }

// ApplyRiskFields sets the given canonical fields on r (model.SetField);
// unknown fields (and the key, which only the hub assigns) are ignored.
func ApplyRiskFields(r *model.Risk, f map[string]string) error {
	for k, v := range f {
		if _, err := r.SetField(k, v); err != nil {
			return err
		}
	}
	return nil
}

// statusMap translates statuses between the hub's spelling and the remote's
// (the sync block's map_status: hub status → remote status).
type statusMap struct {
	toRemote map[string]string
	toHub    map[string]string
}

func newStatusMap(m map[string]string) statusMap {
	sm := statusMap{toRemote: map[string]string{}, toHub: map[string]string{}}
	for hub, remote := range m {
		sm.toRemote[hub] = remote
		if _, dup := sm.toHub[strings.ToLower(remote)]; !dup {
			sm.toHub[strings.ToLower(remote)] = hub
		}
	}
	return sm
}

// remote maps hub fields to the remote's spelling (a copy).
func (m statusMap) remote(f map[string]string) map[string]string {
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[k] = v
	}
	if v, ok := f[connector.FieldStatus]; ok && len(m.toRemote) > 0 {
		if rv, ok := m.toRemote[v]; ok {
			out[connector.FieldStatus] = rv
		}
	}
	return out
}

// remoteValue is a hub field's value in the remote's spelling.
func (m statusMap) remoteValue(field, v string) string {
	if field == connector.FieldStatus {
		if rv, ok := m.toRemote[v]; ok {
			return rv
		}
	}
	return v
}

// hubFields maps remote fields to the hub's spelling (a copy); a field that
// cannot be read (a status map_status does not know) is left out and
// returned in unmapped with the reason.
func (m statusMap) hubFields(f map[string]string) (fields, unmapped map[string]string) {
	out, err := m.hub(f)
	if err == nil {
		return out, nil
	}
	out = make(map[string]string, len(f))
	for k, v := range f {
		if k != connector.FieldStatus {
			out[k] = v
		}
	}
	return out, map[string]string{connector.FieldStatus: err.Error()}
}

// hub maps remote fields to the hub's spelling; an unknown remote status
// is an error when a map is configured. Without a map (or a status) the
// fields are already the hub's spelling and f itself is returned: callers
// treat the result as read-only, as they do a record's own fields.
func (m statusMap) hub(f map[string]string) (map[string]string, error) {
	if _, ok := f[connector.FieldStatus]; !ok || len(m.toHub) == 0 {
		return f, nil
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[k] = v
	}
	v := f[connector.FieldStatus]
	hv, ok := m.toHub[strings.ToLower(v)]
	if !ok {
		if model.Status(v).Valid() {
			return out, nil
		}
		return nil, fmt.Errorf("remote status %q is not in map_status; add it, e.g. map_status = { accepted = %q }", v, v)
	}
	out[connector.FieldStatus] = hv
	return out, nil
}
