package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/priority"
	"github.com/usmhub/usmhub/core/schedule"
)

// Defaults of the hub block. DataDir is relative to the config's folder.
// hub.plugin_dir has no default: connectors are looked for in it only when
// it is set (then in the usmhub binary's own folder), so that no folder the
// operator did not name can hold a binary that shadows a real connector.
const (
	DefaultDataDir   = "data"
	DefaultLogLevel  = "info"
	DefaultLogFormat = "text"
	DefaultListen    = "127.0.0.1:8765"
)

// The values the enumerated attributes accept, in documentation order.
var (
	LogLevels   = []string{"trace", "debug", "info", "warn", "error"}
	LogFormats  = []string{"text", "json"}
	Strategies  = []string{"erp", "best_of_breed"}
	ReportKinds = []string{"sprint", "scan", "register", "readiness"}
)

// Load reads, decodes and checks the config file at path: a native HCL file,
// or HCL's JSON form when the name ends in ".json". A file larger than
// MaxConfigBytes, or nested or chained beyond MaxNesting or MaxOperators,
// is refused before it is parsed. On any problem it returns
// a *DiagError with every diagnostic found; their file names are path as
// given. Relative paths in the config resolve from the file's folder.
func Load(path string) (*Config, error) {
	return LoadWith(path, Options{})
}

// Options tune LoadWith; the zero value is Load's.
type Options struct {
	// WithoutHubSecrets loads a config whose hub tokens (api_token,
	// read_token) cannot be read — env() of an unset variable, file() of a
	// missing file — as if they were not set, instead of failing: only the
	// daemon uses them, so the other commands need not have them.
	WithoutHubSecrets bool
}

// LoadWith is Load with options.
func LoadWith(path string, opts Options) (*Config, error) {
	parser := hclparse.NewParser()
	src, diags := readConfig(path)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: parser.Files()}
	}
	// The guard runs before the parser: see MaxNesting.
	var file *hcl.File
	if diags = checkText(src, path); diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: parser.Files()}
	}
	if strings.HasSuffix(path, ".json") {
		if diags = guardJSON(src, path); !diags.HasErrors() {
			file, diags = parser.ParseJSON(src, path)
		}
	} else {
		if diags = guardHCL(src, path); !diags.HasErrors() {
			file, diags = parser.ParseHCL(src, path)
		}
	}
	if diags.HasErrors() {
		sortDiagnostics(diags)
		return nil, &DiagError{Diags: diags, Files: parser.Files()}
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &DiagError{Diags: hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot locate the config's folder",
			Detail:   fmt.Sprintf("%s; run usmhub from a folder that still exists.", err),
		}}, Files: parser.Files()}
	}

	l := &loader{
		opts:  opts,
		cfg:   &Config{Path: path, Dir: dir},
		src:   file.Bytes,
		diags: diags,
	}
	l.ctx, l.fv = RecordingEvalContext(dir)
	var fs fileSchema
	l.diags = append(l.diags, gohcl.DecodeBody(file.Body, l.ctx, &fs)...)
	l.hub(fs.Hubs)
	l.priorities(fs.Priorities)
	l.connectors(fs.Connectors)
	l.initiatives(fs.Initiatives)
	l.syncs(fs.Syncs)
	l.reports(fs.Reports)

	hintAllowed(l.diags, file.Body)
	diags = Explain(l.diags)
	for _, d := range diags { // what errorf did not write (gohcl's, policies')
		d.Summary, d.Detail = l.fv.Hide(d.Summary), l.fv.Hide(d.Detail)
	}
	sortDiagnostics(diags)
	if diags.HasErrors() {
		return nil, &DiagError{Diags: diags, Files: parser.Files()}
	}
	lock, err := LoadLock(filepath.Join(dir, LockFileName))
	if err != nil {
		return nil, err
	}
	l.cfg.Lock = lock
	return l.cfg, nil
}

// loader accumulates a Config and the diagnostics found while building it.
type loader struct {
	opts  Options
	cfg   *Config
	src   []byte
	ctx   *hcl.EvalContext
	fv    *FunctionValues // what env() and file() returned: never shown
	diags hcl.Diagnostics
}

// errorf adds an error at rng, unless there is one there already: a value
// whose expression failed (e.g. env() of an unset variable) gets no second
// error from the checks of its decoded zero value.
//
// A value that env() or file() returned is never shown: such an argument
// prints as HiddenValue (it may be a secret put in the wrong attribute).
func (l *loader) errorf(rng hcl.Range, summary, format string, args ...any) {
	for _, d := range l.diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Overlaps(rng) {
			return
		}
	}
	for i, a := range args {
		args[i] = l.fv.hideArg(a)
	}
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  l.fv.Hide(summary),
		Detail:   l.fv.Hide(fmt.Sprintf(format, args...)),
		Subject:  rng.Ptr(),
	})
}

// isSet reports whether an attribute range was filled in by gohcl, i.e.
// whether the attribute was written.
func isSet(r hcl.Range) bool { return r.Filename != "" }

// at formats a range's start as FILE:LINE,COL for "defined at" details.
func at(r hcl.Range) string { return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column) }

var labelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// label checks a block label used as an identifier.
func (l *loader) label(block, what, value string, rng hcl.Range) bool {
	if labelPattern.MatchString(value) {
		return true
	}
	l.errorf(rng, fmt.Sprintf("Invalid %s %s", block, what),
		"%q is not a valid %s %s; use letters, digits, \"-\" and \"_\", starting with a letter or digit.", value, block, what)
	return false
}

// unique records a block's identity and reports a duplicate at the second
// definition, pointing to the first.
// what is what tells the blocks apart: "key", "name", "type and name".
func (l *loader) unique(seen map[string]hcl.Range, block, what, id string, rng hcl.Range) bool {
	if first, dup := seen[id]; dup {
		l.errorf(rng, fmt.Sprintf("Duplicate %s %q", block, id),
			"%s %q is already defined at %s; give each %s its own %s, or merge the two blocks.",
			strings.ToUpper(block[:1])+block[1:], id, at(first), block, what)
		return false
	}
	seen[id] = rng
	return true
}

// oneOf checks an enumerated attribute's value.
func (l *loader) oneOf(attr, noun, value string, rng hcl.Range, allowed []string) {
	for _, a := range allowed {
		if value == a {
			return
		}
	}
	l.errorf(rng, "Invalid "+attr, "%q is not a %s; use one of: %s.", value, noun, strings.Join(allowed, ", "))
}

// date checks a calendar date attribute.
func (l *loader) date(attr, value string, rng hcl.Range) {
	if _, err := time.Parse(model.DateLayout, value); err != nil {
		l.errorf(rng, "Invalid date", "%q is not a date; write %s as YYYY-MM-DD, e.g. 2025-03-01.", value, attr)
	}
}

func (l *loader) path(value, def string) string {
	if value == "" {
		value = def
	}
	if !filepath.IsAbs(value) {
		value = filepath.Join(l.cfg.Dir, value)
	}
	return filepath.Clean(value)
}

func (l *loader) hub(blocks []*hubSchema) {
	h := Hub{LogLevel: DefaultLogLevel, LogFormat: DefaultLogFormat, Listen: DefaultListen}
	var b hubSchema
	if len(blocks) > 0 {
		b = *blocks[0]
		for _, dup := range blocks[1:] {
			l.errorf(dup.DefRange, "Duplicate hub block",
				"Only one hub block is allowed; merge this one into the one at %s.", at(blocks[0].DefRange))
		}
	}
	h.Range = b.DefRange
	h.DataDir = l.path(b.DataDir, DefaultDataDir)
	if b.PluginDir != "" {
		h.PluginDir = l.path(b.PluginDir, "")
	}
	if isSet(b.LogLevelRange) {
		h.LogLevel = b.LogLevel
		l.oneOf("log_level", "log level", b.LogLevel, b.LogLevelRange, LogLevels)
	}
	if isSet(b.LogFormatRange) {
		h.LogFormat = b.LogFormat
		l.oneOf("log_format", "log format", b.LogFormat, b.LogFormatRange, LogFormats)
	}
	if isSet(b.StrategyRange) {
		h.Strategy = b.Strategy
		l.oneOf("strategy", "strategy", b.Strategy, b.StrategyRange, Strategies)
	}
	if isSet(b.ListenRange) {
		h.Listen = b.Listen
		if _, _, err := net.SplitHostPort(b.Listen); err != nil {
			l.errorf(b.ListenRange, "Invalid listen", "%q is not an address to listen on; write host:port, e.g. %s.", b.Listen, DefaultListen)
		}
	}
	if isSet(b.PublicURLRange) {
		h.PublicURL = l.publicURL(b.PublicURL, b.PublicURLRange)
	}
	h.RequirePluginPins = b.RequirePluginPins
	l.tls(&h, b)
	if isSet(b.APITokenRange) && !l.unreadSecret(b.APITokenRange) {
		h.APIToken = l.token("api_token", b.APIToken, b.APITokenRange)
	}
	if isSet(b.ReadTokenRange) && !l.unreadSecret(b.ReadTokenRange) {
		h.ReadToken = l.token("read_token", b.ReadToken, b.ReadTokenRange)
	}
	l.cfg.Hub = h
}

// publicURL checks hub.public_url: an absolute http or https URL without
// query or fragment; it returns it without a trailing slash.
func (l *loader) publicURL(v string, rng hcl.Range) string {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		l.errorf(rng, "Invalid public_url", "%q is not where people reach the dashboard; write an http or https URL without user, query or fragment, e.g. \"https://usm.example.org\" or \"https://example.org/usmhub\".", v)
		return ""
	}
	return strings.TrimRight(u.String(), "/")
}

// tls checks hub.tls_cert and hub.tls_key: both or neither, and files
// that hold a certificate and its private key.
func (l *loader) tls(h *Hub, b hubSchema) {
	certSet, keySet := isSet(b.TLSCertRange), isSet(b.TLSKeyRange)
	switch {
	case !certSet && !keySet:
		return
	case !keySet:
		l.errorf(b.TLSCertRange, "Missing tls_key", "tls_cert is set but tls_key is not; set both (PEM files of the certificate and its private key), or neither to serve plain HTTP.")
		return
	case !certSet:
		l.errorf(b.TLSKeyRange, "Missing tls_cert", "tls_key is set but tls_cert is not; set both (PEM files of the certificate and its private key), or neither to serve plain HTTP.")
		return
	}
	cert, key := l.path(b.TLSCert, ""), l.path(b.TLSKey, "")
	for _, f := range []struct {
		attr, path string
		rng        hcl.Range
	}{{"tls_cert", cert, b.TLSCertRange}, {"tls_key", key, b.TLSKeyRange}} {
		if _, err := os.Stat(f.path); err != nil {
			l.errorf(f.rng, "Invalid "+f.attr, "Cannot read %s: %s; give the path of a PEM file (relative to the config's folder).", f.path, pathError(err))
			return
		}
	}
	if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
		l.errorf(b.TLSCertRange, "Invalid tls_cert or tls_key",
			"%s and %s are not a certificate and its private key: %s. Give PEM files, the certificate (with its chain) in tls_cert and its key in tls_key.", cert, key, err)
		return
	}
	h.TLSCert, h.TLSKey = cert, key
}

// pathError is an os error without the path it repeats.
func pathError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// unreadSecret reports whether the value at rng could not be read and
// opts.WithoutHubSecrets lets that pass; it then drops the value's errors.
func (l *loader) unreadSecret(rng hcl.Range) bool {
	if !l.opts.WithoutHubSecrets {
		return false
	}
	kept := l.diags[:0:0]
	dropped := false
	for _, d := range l.diags {
		if d.Severity == hcl.DiagError && d.Subject != nil && d.Subject.Overlaps(rng) {
			dropped = true
			continue
		}
		kept = append(kept, d)
	}
	l.diags = kept
	return dropped
}

// token checks a bearer token attribute of the hub block; it never puts
// the value in a diagnostic.
func (l *loader) token(name, value string, rng hcl.Range) Secret {
	switch {
	case value == "":
		l.errorf(rng, "Invalid "+name, "The %s is empty; set a token or remove the attribute.", name)
	case strings.IndexFunc(value, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		l.errorf(rng, "Invalid "+name,
			"The %s (value not shown) contains whitespace or control characters; check the value, or the file or environment variable it is read from.", name)
	default:
		return NewSecret(value)
	}
	return Secret{}
}

func (l *loader) priorities(blocks []*prioritySchema) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		if !l.label("priority", "name", b.Name, b.NameRange) || !l.unique(seen, "priority", "name", b.Name, b.DefRange) {
			continue
		}
		p := &Priority{Name: b.Name, Description: b.Description, Range: b.DefRange}
		if !isSet(b.ScoreRange) {
			// gohcl never requires an hcl.Expression field; say it as HCL does.
			l.errorf(b.Body.MissingItemRange(), "Missing required argument",
				"The argument \"score\" is required, but no definition was found.")
		} else {
			pol, diags := priority.Compile(b.Name, b.Description, b.Score, l.src)
			l.diags = append(l.diags, diags...)
			p.Policy = pol
		}
		l.cfg.Priorities = append(l.cfg.Priorities, p)
	}
}

func (l *loader) connectors(blocks []*connectorSchema) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		okType := l.label("connector", "type", b.Type, b.TypeRange)
		okName := l.label("connector", "name", b.Name, b.NameRange)
		c := &Connector{Type: b.Type, Name: b.Name, Body: b.Body, Range: b.DefRange}
		if !okType || !okName || !l.unique(seen, "connector", "type and name", c.ID(), b.DefRange) {
			continue
		}
		if isSet(b.PluginSHA256Range) {
			sum, ok := ParseSHA256(b.PluginSHA256)
			if !ok {
				l.errorf(b.PluginSHA256Range, "Invalid plugin_sha256",
					"%q is not a SHA-256 digest; write the 64 hex digits that `sha256sum` prints for the plugin binary, optionally after \"sha256:\".", b.PluginSHA256)
			}
			c.PluginSHA256 = sum
		}
		l.cfg.Connectors = append(l.cfg.Connectors, c)
	}
}

func (l *loader) initiatives(blocks []*initiativeSchema) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		if !l.label("initiative", "key", b.Key, b.KeyRange) || !l.unique(seen, "initiative", "key", b.Key, b.DefRange) {
			continue
		}
		if isSet(b.NameRange) && strings.TrimSpace(b.Name) == "" {
			l.errorf(b.NameRange, "Invalid name", "The initiative's name is empty; name the initiative as management committed to it.")
		}
		if isSet(b.CommittedOnRange) {
			l.date("committed_on", b.CommittedOn, b.CommittedOnRange)
		}
		in := model.Initiative{
			Key:           b.Key,
			Name:          b.Name,
			Scope:         b.Scope,
			Rationale:     b.Rationale,
			Approach:      b.Approach,
			Sponsor:       b.Sponsor,
			CommittedOn:   b.CommittedOn,
			Lead:          b.Lead,
			Team:          b.Team,
			SoundingBoard: b.SoundingBoard,
			Priority:      b.Priority,
		}
		if b.SprintCapacity != nil {
			in.SprintCapacity = *b.SprintCapacity
			if in.SprintCapacity <= 0 {
				l.errorf(b.SprintCapacityRange, "Invalid sprint_capacity",
					"sprint_capacity is the effort one sprint can take on and must be more than 0, not %g.", in.SprintCapacity)
			}
		}
		for _, t := range b.Trainings {
			if isSet(t.DateRange) {
				l.date("date", t.Date, t.DateRange)
			}
			in.Training = append(in.Training, model.Training{Person: t.Person, Course: t.Course, Date: t.Date})
		}
		switch {
		case in.Priority != "":
			if l.cfg.Priority(in.Priority) == nil {
				l.errorf(b.PriorityRange, "Unknown priority policy", "No priority block is named %q; %s.",
					in.Priority, l.choices("priority", priorityNames(l.cfg.Priorities)))
			}
		case len(l.cfg.Priorities) == 1:
			in.Priority = l.cfg.Priorities[0].Name
		}
		l.cfg.Initiatives = append(l.cfg.Initiatives, &Initiative{Initiative: in, Range: b.DefRange})
	}
}

// choices tells the user which names a reference may use.
func (l *loader) choices(block string, names []string) string {
	if len(names) == 0 {
		return fmt.Sprintf("there is no %s block yet; add one", block)
	}
	return "use one of: " + strings.Join(names, ", ")
}

func (l *loader) reports(blocks []*reportSchema) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		if !l.label("report", "name", b.Name, b.NameRange) || !l.unique(seen, "report", "name", b.Name, b.DefRange) {
			continue
		}
		r := &Report{Name: b.Name, Kind: b.Kind, Initiative: b.Initiative, Schedule: b.Schedule, Range: b.DefRange}
		if isSet(b.KindRange) {
			l.oneOf("kind", "report kind", b.Kind, b.KindRange, ReportKinds)
		}
		r.Initiative = l.initiativeOf(fmt.Sprintf("Report %q", b.Name), "is about", b.Initiative, b.InitiativeRange, b.DefRange)
		r.PublishTo = l.publishTo(b.PublishTo)
		if b.Schedule != "" {
			if err := schedule.ValidateSpec(b.Schedule); err != nil {
				l.errorf(b.DefRange, "Invalid schedule", "%s.", strings.TrimSuffix(err.Error(), "."))
			}
		}
		l.cfg.Reports = append(l.cfg.Reports, r)
	}
}

// initiativeOf resolves the initiative a block names (checking it exists),
// or, when it names none, the config's only initiative. who and verb make
// the diagnostics read well ("Report \"x\"", "is about").
func (l *loader) initiativeOf(who, verb, key string, rng, def hcl.Range) string {
	switch {
	case isSet(rng):
		if l.cfg.initiative(key) == nil {
			l.errorf(rng, "Unknown initiative", "No initiative block has the key %q; %s.",
				key, l.choices("initiative", initiativeKeys(l.cfg.Initiatives)))
		}
		return key
	case len(l.cfg.Initiatives) == 1:
		return l.cfg.Initiatives[0].Key
	case len(l.cfg.Initiatives) == 0:
		l.errorf(def, "Missing initiative", "%s %s an initiative, but there is no initiative block; add one.", who, verb)
	default:
		l.errorf(def, "Missing initiative", "%s does not say which initiative it %s; set initiative to one of: %s.",
			who, verb, strings.Join(initiativeKeys(l.cfg.Initiatives), ", "))
	}
	return ""
}

// publishTo decodes a report's publish_to list and checks that each entry
// names a connector block, pointing at the entry when it does not.
func (l *loader) publishTo(expr hcl.Expression) []string {
	if expr == nil {
		return nil
	}
	var ids []string
	diags := gohcl.DecodeExpression(expr, l.ctx, &ids)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	elems, _ := hcl.ExprList(expr)
	for i, id := range ids {
		if l.cfg.Connector(id) != nil {
			continue
		}
		rng := expr.Range()
		if len(elems) == len(ids) {
			rng = elems[i].Range()
		}
		known := make([]string, len(l.cfg.Connectors))
		for j, c := range l.cfg.Connectors {
			known[j] = c.ID()
		}
		hint := "there is no connector block yet; add one"
		if len(known) > 0 {
			hint = "use one of: " + strings.Join(known, ", ")
		}
		l.errorf(rng, "Unknown connector", "No connector block is %q (publish_to names connectors as \"<type>.<name>\"); %s.", id, hint)
	}
	return ids
}

func priorityNames(ps []*Priority) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	return names
}

func initiativeKeys(ins []*Initiative) []string {
	keys := make([]string, len(ins))
	for i, in := range ins {
		keys[i] = in.Key
	}
	return keys
}

// Initiative returns the initiative with the key. An empty key means the
// only initiative, when there is exactly one. The error lists the keys
// there are.
func (c *Config) Initiative(key string) (*Initiative, error) {
	if key != "" {
		if in := c.initiative(key); in != nil {
			return in, nil
		}
	}
	keys := initiativeKeys(c.Initiatives)
	sort.Strings(keys)
	switch {
	case len(keys) == 0:
		return nil, fmt.Errorf("%s has no initiative block; add one", c.Path)
	case key != "":
		return nil, fmt.Errorf("no initiative %q in %s; the initiatives are: %s", key, c.Path, strings.Join(keys, ", "))
	case len(keys) == 1:
		return c.Initiatives[0], nil
	default:
		return nil, fmt.Errorf("%s has several initiatives; name one of: %s", c.Path, strings.Join(keys, ", "))
	}
}

func (c *Config) initiative(key string) *Initiative {
	for _, in := range c.Initiatives {
		if in.Key == key {
			return in
		}
	}
	return nil
}

// Policy returns the priority policy of an initiative (an empty key means
// the only initiative), or nil when the initiative is unknown or has none.
func (c *Config) Policy(initiativeKey string) *Priority {
	in, err := c.Initiative(initiativeKey)
	if err != nil || in.Priority == "" {
		return nil
	}
	return c.Priority(in.Priority)
}

// Priority returns the priority block with the name, or nil.
func (c *Config) Priority(name string) *Priority {
	for _, p := range c.Priorities {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Connector returns the connector block whose ID ("<type>.<name>") is id,
// or nil.
func (c *Config) Connector(id string) *Connector {
	for _, k := range c.Connectors {
		if k.ID() == id {
			return k
		}
	}
	return nil
}

// DatabasePath is the embedded store's file: usmhub.db in the data folder.
func (c *Config) DatabasePath() string { return filepath.Join(c.Hub.DataDir, "usmhub.db") }
