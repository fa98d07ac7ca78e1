package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// reportKey is what a report key may look like: it becomes a file name.
// validReportKey also bounds its length; written as a bounded repetition
// ({0,199}) the expression cost ~1.8 ms of CPU and 2 600 allocations to
// compile at every start of the plugin.
var reportKey = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// maxReportKey is the longest report key, in bytes (all ASCII).
const maxReportKey = 200

// validReportKey says whether k may name a report's files.
func validReportKey(k string) bool { return len(k) <= maxReportKey && reportKey.MatchString(k) }

// Publish writes the report to <reports_dir>/<key>.md, atomically, as
// Markdown under a heading with its title, and its HTML form (when the hub
// sends one) to <key>.html beside it. Publishing a key again replaces its
// files. The ExternalID is the key, the URL a file:// URL.
func (c *Connector) Publish(ctx context.Context, rep sdk.Report) (sdk.Published, error) {
	cfg, err := c.source()
	if err != nil {
		return sdk.Published{}, err
	}
	if !validReportKey(rep.Key) {
		return sdk.Published{}, sdk.Errorf(sdk.ClassInvalid,
			"report key %q cannot name a file: use letters, digits, '.', '-' and '_' (at most 200), starting with a letter or digit", rep.Key)
	}
	// The reports folder is made when missing, but not the folders above
	// it: a missing one is a mistake (see source.go), not a place to fill.
	dir := cfg.path(cfg.ReportsDir)
	if err := absent(dir); err != nil {
		return sdk.Published{}, fmt.Errorf("publish %s: %w", rep.Key, err)
	}
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return sdk.Published{}, fmt.Errorf("publish %s: %w", rep.Key, err)
	}
	lock, err := lockDir(ctx, cfg.Dir)
	if err != nil {
		return sdk.Published{}, sdk.Errorf(sdk.ClassTransient, "publish %s: %v", rep.Key, err)
	}
	defer lock.release()

	path := filepath.Join(dir, rep.Key+".md")
	_, err = os.Stat(path)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return sdk.Published{}, fmt.Errorf("publish %s: %w", rep.Key, err)
	}
	if err := writeAtomic(path, cfg.root(cfg.ReportsDir), time.Time{}, func(w io.Writer) error {
		_, err := io.WriteString(w, renderReport(rep))
		return err
	}); err != nil {
		return sdk.Published{}, fmt.Errorf("publish %s: %w", rep.Key, err)
	}
	// The HTML form, when the hub sends one, goes beside the Markdown.
	if rep.HTML != "" {
		if err := writeAtomic(filepath.Join(dir, rep.Key+".html"), cfg.root(cfg.ReportsDir), time.Time{}, func(w io.Writer) error {
			_, err := io.WriteString(w, rep.HTML)
			return err
		}); err != nil {
			return sdk.Published{}, fmt.Errorf("publish %s as HTML: %w", rep.Key, err)
		}
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path)}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // a Windows drive path
	}
	return sdk.Published{URL: u.String(), ExternalID: rep.Key, Created: !existed}, nil
}

// renderReport is the file's content: the title as a heading, then the
// Markdown with \n line ends (trailing blanks are Markdown line breaks, so
// they stay).
func renderReport(rep sdk.Report) string {
	title := strings.Join(strings.Fields(rep.Title), " ")
	if title == "" {
		title = rep.Key
	}
	body := strings.ReplaceAll(rep.Markdown, "\r\n", "\n")
	body = strings.Trim(body, "\n")
	return "# " + title + "\n\n" + body + "\n"
}
