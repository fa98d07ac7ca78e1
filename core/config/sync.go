package config

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/schedule"
)

// SyncKinds are the entity kinds a sync block may bind.
var SyncKinds = []string{"risk", "sprint", "vote", "scan", "item"}

// syncFields are the canonical fields of each kind, as authority.fields and
// filter name them.
var syncFields = map[string][]string{
	"risk":   {"key", "title", "description", "kind", "process", "source", "likelihood", "impact", "effort", "owner", "status"},
	"sprint": {"number", "goal", "start", "end", "capacity", "status", "items"},
	"vote":   {"risk", "voter", "weight"},
	"scan":   {"kind", "method", "method_version", "date", "dimension", "score", "respondents", "note"},
	"item":   {"key", "name", "type", "status", "owner", "description"},
}

// defaultDirection is each kind's natural direction: risks both ways, votes
// and scans into the hub, sprints (decided in the hub) out, configuration
// items in from the tool that keeps the BIR.
var defaultDirection = map[string]string{"risk": "both", "vote": "pull", "scan": "pull", "sprint": "push", "item": "pull"}

func (l *loader) syncs(blocks []*syncSchema) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		if !l.label("sync", "name", b.Name, b.NameRange) || !l.unique(seen, "sync", "name", b.Name, b.DefRange) {
			continue
		}
		s := &Sync{Name: b.Name, Kind: b.Kind, Connector: b.Connector, Initiative: b.Initiative, Direction: b.Direction,
			MapStatus: b.MapStatus, Filter: b.Filter, OnDelete: b.OnDelete, Schedule: b.Schedule,
			Range: b.DefRange, ConnectorRange: b.ConnectorRange, BatchSize: 100,
			Lookback: 5 * time.Minute, FullEvery: 24 * time.Hour}
		// A missing kind or connector is HCL's "Missing required argument",
		// at the block; there is no value to check, nor a place to point at.
		if isSet(b.KindRange) {
			l.oneOf("kind", "sync kind", b.Kind, b.KindRange, SyncKinds)
		}
		fields := syncFields[b.Kind]
		if isSet(b.ConnectorRange) && l.cfg.Connector(b.Connector) == nil {
			known := make([]string, len(l.cfg.Connectors))
			for i, c := range l.cfg.Connectors {
				known[i] = c.ID()
			}
			hint := "there is no connector block yet; add one"
			if len(known) > 0 {
				hint = "use one of: " + strings.Join(known, ", ")
			}
			l.errorf(b.ConnectorRange, "Unknown connector", "No connector block is %q (write \"<type>.<name>\"); %s.", b.Connector, hint)
		}
		s.Initiative = l.initiativeOf(fmt.Sprintf("Sync %q", b.Name), "syncs", b.Initiative, b.InitiativeRange, b.DefRange)
		if s.Direction == "" {
			s.Direction = defaultDirection[b.Kind]
		} else {
			l.oneOf("direction", "direction", b.Direction, b.DirectionRange, []string{"push", "pull", "both"})
		}
		if b.Kind == "vote" || b.Kind == "scan" {
			if isSet(b.DirectionRange) && b.Direction != "pull" {
				l.errorf(b.DirectionRange, "Invalid direction", "%s flow only into the hub; set direction = \"pull\" or leave it out.", b.Kind+"s")
			}
		}
		if b.Kind == "sprint" && isSet(b.DirectionRange) && b.Direction != "push" {
			l.errorf(b.DirectionRange, "Invalid direction", "Sprints are planned in the hub by its priority policy and only pushed; set direction = \"push\" or leave it out.")
		}
		if isSet(b.OnDeleteRange) {
			l.oneOf("on_delete", "delete policy", b.OnDelete, b.OnDeleteRange, []string{"close", "orphan", "delete"})
		} else {
			s.OnDelete = "close"
		}
		for _, a := range b.Authority[min(1, len(b.Authority)):] {
			l.errorf(a.DefRange, "Duplicate authority block", "A sync has one authority block; merge this one into the first.")
		}
		if len(b.Authority) > 0 {
			a := b.Authority[0]
			if isSet(a.DefaultRange) {
				s.AuthorityDefault = a.Default
				l.oneOf("default", "side", a.Default, a.DefaultRange, []string{"hub", "remote"})
			}
			s.AuthorityFields = a.Fields
			for _, f := range sortedKeys(a.Fields) {
				if !contains(fields, f) && fields != nil {
					l.errorf(a.FieldsRange, "Unknown field", "%q is not a field of a %s; authority.fields may name: %s.", f, b.Kind, strings.Join(fields, ", "))
				}
				if v := a.Fields[f]; v != "hub" && v != "remote" {
					l.errorf(a.FieldsRange, "Invalid side", "authority.fields.%s is %q; a field is owned by \"hub\" or \"remote\".", f, v)
				}
			}
		}
		for _, f := range sortedKeys(b.Filter) {
			if !contains(fields, f) && fields != nil {
				l.errorf(b.FilterRange, "Unknown field", "%q is not a field of a %s; filter may name: %s.", f, b.Kind, strings.Join(fields, ", "))
			}
		}
		statuses := map[string][]string{"risk": statusNames(), "sprint": {"planned", "active", "closed"}, "item": itemStatusNames()}[b.Kind]
		for _, k := range sortedKeys(b.MapStatus) {
			if statuses == nil {
				l.errorf(b.MapStatusRange, "Unexpected map_status", "A %s has no status to map; remove map_status.", b.Kind)
				break
			}
			if !contains(statuses, k) {
				l.errorf(b.MapStatusRange, "Unknown status", "map_status maps hub statuses to the tool's: %q is not a %s status; use: %s.", k, b.Kind, strings.Join(statuses, ", "))
			}
		}
		if b.Schedule != "" {
			if err := schedule.ValidateSpec(b.Schedule); err != nil {
				l.errorf(b.ScheduleRange, "Invalid schedule", "%s.", strings.TrimSuffix(err.Error(), "."))
			}
		}
		if b.Kind == "vote" || b.Kind == "scan" {
			// Small, and a record refused for a risk not yet in the hub must
			// be retried: list them all every run.
			s.FullEvery = time.Nanosecond
		}
		s.Lookback = l.duration("lookback", b.Lookback, b.LookbackRange, s.Lookback)
		s.FullEvery = l.duration("full_every", b.FullEvery, b.FullEveryRange, s.FullEvery)
		if b.BatchSize != nil {
			if *b.BatchSize < 1 || *b.BatchSize > 10000 {
				l.errorf(b.BatchSizeRange, "Invalid batch_size", "batch_size is %d; use 1 to 10000.", *b.BatchSize)
			}
			s.BatchSize = *b.BatchSize
		}
		s.MaxDeletePercent, s.MaxDeleteMin, s.AdoptForeign = 10, 5, b.AdoptForeign
		if b.MaxDeletePercent != nil {
			if *b.MaxDeletePercent <= 0 || *b.MaxDeletePercent > 100 {
				l.errorf(b.MaxDeletePercentRange, "Invalid max_delete_percent", "max_delete_percent is %g; use more than 0 and at most 100 (100: no limit).", *b.MaxDeletePercent)
			}
			s.MaxDeletePercent = *b.MaxDeletePercent
		}
		if b.MaxDeleteMin != nil {
			if *b.MaxDeleteMin < 0 {
				l.errorf(b.MaxDeleteMinRange, "Invalid max_delete_min", "max_delete_min is %d; use 0 or more.", *b.MaxDeleteMin)
			}
			s.MaxDeleteMin = *b.MaxDeleteMin
		}
		l.cfg.Syncs = append(l.cfg.Syncs, s)
	}
	l.strategy()
}

// strategy checks the sync blocks against hub.strategy: under erp one
// connector serves every kind and owns it; under best_of_breed each kind has
// exactly one authoritative binding and the others mirror it.
func (l *loader) strategy() {
	syncs := l.cfg.Syncs
	if len(syncs) == 0 {
		return
	}
	switch l.cfg.Hub.Strategy {
	case "":
		l.errorf(syncs[0].Range, "No strategy", "Sync blocks need hub.strategy: \"erp\" (one integrated tool owns everything) or \"best_of_breed\" (each kind has its own authoritative tool); set it in the hub block.")
	case "erp":
		first := syncs[0]
		for _, s := range syncs {
			if s.AuthorityDefault == "" {
				s.AuthorityDefault = "remote"
			}
			if s.Connector != first.Connector {
				l.errorf(s.ConnectorRange, "One tool under erp", "With strategy \"erp\" every sync uses the one integrated tool, but this one uses %q and sync %q (%s) uses %q; use one connector, or set hub.strategy = \"best_of_breed\".",
					s.Connector, first.Name, at(first.Range), first.Connector)
			}
			if s.AuthorityDefault != "remote" {
				l.errorf(s.Range, "The tool owns everything under erp", "With strategy \"erp\" the integrated tool is authoritative; remove authority.default = \"hub\" from sync %q, or set hub.strategy = \"best_of_breed\".", s.Name)
			}
		}
	case "best_of_breed":
		byKind := map[string][]*Sync{}
		for _, s := range syncs {
			if s.AuthorityDefault == "" {
				s.AuthorityDefault = "hub"
			}
			byKind[s.Kind] = append(byKind[s.Kind], s)
		}
		for _, kind := range SyncKinds {
			var owners []*Sync
			for _, s := range byKind[kind] {
				if s.Authoritative() {
					owners = append(owners, s)
				}
			}
			switch {
			case len(byKind[kind]) == 0:
			case len(owners) == 0:
				s := byKind[kind][0]
				l.errorf(s.Range, "No authoritative tool", "With strategy \"best_of_breed\" each kind has exactly one authoritative binding, but no sync of %ss says so; add authority { default = \"remote\" } to the sync of the tool that owns %ss (e.g. sync %q).", kind, kind, s.Name)
			case len(owners) > 1:
				l.errorf(owners[1].Range, "Two authoritative tools", "With strategy \"best_of_breed\" each kind has exactly one authoritative binding, but syncs %q (%s) and %q both own %ss; set authority { default = \"hub\" } on the one that mirrors.",
					owners[0].Name, at(owners[0].Range), owners[1].Name, kind)
			}
		}
	}
}

// duration parses a Go duration attribute, or returns def when unset.
func (l *loader) duration(attr, v string, rng hcl.Range, def time.Duration) time.Duration {
	if !isSet(rng) {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.errorf(rng, "Invalid "+attr, "%q is not a duration; write e.g. \"5m\", \"1h\" or \"24h\".", v)
		return def
	}
	return d
}

func statusNames() []string {
	out := make([]string, len(model.Statuses))
	for i, s := range model.Statuses {
		out[i] = string(s)
	}
	return out
}

func itemStatusNames() []string {
	out := make([]string, len(model.ItemStatuses))
	for i, s := range model.ItemStatuses {
		out[i] = string(s)
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Sync returns the sync block with that name, or nil.
func (c *Config) Sync(name string) *Sync {
	for _, s := range c.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}
