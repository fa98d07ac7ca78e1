package report

import (
	"errors"
	"fmt"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/progress"
)

// ScanReport compares an initiative's baseline scan with its latest
// progress scan of the same method and version, per dimension. Baseline is
// nil when there is no baseline yet; Latest is nil while no comparable
// progress scan exists, and then Rows hold the baseline's scores only.
// Next names the step that would make the report more useful, if any.
type ScanReport struct {
	Baseline *ScanInfo      `json:"baseline"`
	Latest   *ScanInfo      `json:"latest"`
	Rows     []progress.Row `json:"rows"`
	// Findings are the latest scan's findings (the baseline's while it is
	// the only one).
	Findings []string `json:"findings"`
	// ProgressScans counts the progress scans comparable with the baseline;
	// Incomparable those taken with another method or version.
	ProgressScans int    `json:"progress_scans"`
	Incomparable  int    `json:"incomparable"`
	Next          string `json:"next,omitempty"`
}

// ScanInfo describes one scan.
type ScanInfo struct {
	Kind          model.ScanKind `json:"kind"`
	Method        string         `json:"method"`
	MethodVersion string         `json:"method_version"`
	TakenOn       string         `json:"taken_on"`
	Dimensions    int            `json:"dimensions"`
}

func infoOf(s model.Scan) *ScanInfo {
	return &ScanInfo{Kind: s.Kind, Method: s.Method, MethodVersion: s.MethodVersion, TakenOn: s.TakenOn, Dimensions: len(s.Scores)}
}

func buildScan(r *Report, in Input) error {
	key := in.Initiative.Key
	scans, err := in.Reader.Scans(key)
	if err != nil {
		return fmt.Errorf("read scans: %w", err)
	}
	cmp, err := progress.Compare(scans)
	if errors.Is(err, progress.ErrNoBaseline) {
		r.Key = keyPrefix(key) + "-scan-none"
		r.Title = "No baseline scan of " + r.InitiativeName + " yet"
		r.Scan = &ScanReport{
			Rows:     []progress.Row{},
			Findings: []string{},
			Next: fmt.Sprintf("scan the current situation and import it as the baseline: usmhub scan import -initiative %s -kind baseline -method NAME -method-version V -date YYYY-MM-DD FILE.csv",
				key),
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("compare scans: %w", err)
	}
	base := cmp.Baseline
	sr := &ScanReport{Baseline: infoOf(base), Findings: []string{}}
	for _, s := range scans {
		if s.Kind != model.Progress {
			continue
		}
		if model.Comparable(base, s) == nil {
			sr.ProgressScans++
		} else {
			sr.Incomparable++
		}
	}
	r.Key = keyPrefix(key) + "-scan-" + keyPart(base.TakenOn)
	if sr.ProgressScans == 0 {
		// Compare set the baseline against itself: show its scores alone.
		for _, row := range cmp.Rows {
			sr.Rows = append(sr.Rows, progress.Row{Dimension: row.Dimension, Baseline: row.Baseline})
		}
		sr.Findings = append(sr.Findings, base.Findings...)
		sr.Next = fmt.Sprintf("measure progress with the baseline's method: usmhub scan import -initiative %s -kind progress -method %s -method-version %s -date YYYY-MM-DD FILE.csv",
			key, shellWord(base.Method), shellWord(base.MethodVersion))
		r.Title = fmt.Sprintf("Baseline scan of %s (%s)", r.InitiativeName, base.TakenOn)
	} else {
		sr.Latest = infoOf(cmp.Latest)
		sr.Rows = cmp.Rows
		sr.Findings = append(sr.Findings, cmp.Latest.Findings...)
		r.Title = fmt.Sprintf("Progress of %s: scan of %s against the baseline of %s", r.InitiativeName, cmp.Latest.TakenOn, base.TakenOn)
	}
	if sr.Rows == nil {
		sr.Rows = []progress.Row{}
	}
	if sr.Incomparable > 0 && sr.Next == "" {
		sr.Next = fmt.Sprintf("take progress scans with the baseline's method, %s %s: %s taken with another method or version cannot be compared",
			base.Method, base.MethodVersion, plural(sr.Incomparable, "progress scan"))
	}
	r.Scan = sr
	return nil
}

// shellWord quotes s for a command line when it holds anything but plain
// word characters.
func shellWord(s string) string {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '/') {
			return fmt.Sprintf("%q", s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}
