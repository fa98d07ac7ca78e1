package dashboard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The browser tests drive a real headless Chromium (Debian's chromium
// package, which .ci/run installs) with chromedp. Without it they skip
// locally and fail under CI=true.

// chromium returns the browser's path, or skips (fails under CI=true).
func chromium(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("the browser tests do not run with -short")
	}
	for _, name := range []string{os.Getenv("USMHUB_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"} {
		if name == "" {
			continue
		}
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "requires Chromium for the browser tests (apt-get install chromium, or USMHUB_CHROMIUM=path); none found on PATH"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg) // msg says what it requires; under CI=true it fails above
	return ""
}

// browser is a headless Chromium tab whose console errors, uncaught
// exceptions, error log entries (CSP violations among them) and failed or
// refused requests are collected as problems.
type browser struct {
	t        *testing.T
	ctx      context.Context
	mu       sync.Mutex
	problems []string
	shots    string // the folder screenshots go to on failure
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // CI runs as root
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, shots: filepath.Join(os.TempDir(), "usmhub-screenshots", regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))}
	if err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				p = fmt.Sprintf("console.%s", e.Type)
			}
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				p = fmt.Sprintf("log error (%s): %s %s", e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventLoadingFailed:
			p = fmt.Sprintf("request failed: %s %s", e.ErrorText, e.BlockedReason)
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				p = fmt.Sprintf("HTTP %d for %s", e.Response.Status, e.Response.URL)
			}
		}
		if p != "" {
			b.mu.Lock()
			b.problems = append(b.problems, p)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return b
}

// take returns and forgets the problems seen so far.
func (b *browser) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// do runs actions with a timeout; on failure it saves a screenshot.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot(what)
		b.t.Fatalf("%s: %v", what, err)
	}
}

func eval[T any](b *browser, what, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.shot(what)
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds (15 s at most):
// across a navigation, where a query may meet the page that is leaving.
func (b *browser) waitFor(what, cond string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.shot(what)
			b.t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot saves a full-page screenshot of what the browser shows.
func (b *browser) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(90))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	if err := os.MkdirAll(b.shots, 0o755); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(name, "_")+".jpeg")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot of %s: %s", name, path)
}

// chartBox is a chart's size on the page.
type chartBox struct {
	ID     string  `json:"id"`
	Width  float64 `json:"w"`
	Height float64 `json:"h"`
	Named  bool    `json:"named"`
}

const chartsJS = `Array.from(document.querySelectorAll('svg.chart')).map(s => {
  const r = s.getBoundingClientRect();
  const ids = (s.getAttribute('aria-labelledby') || '').split(' ');
  return {id: ids[0], w: r.width, h: r.height, named: ids.length === 2 && ids.every(i => { const e = document.getElementById(i); return e && e.textContent.trim() !== ''; })};
})`

// TestBrowserPages loads every page in Chromium, at a desktop width and at
// 390 px (a phone): no console error, no exception, no failed or refused
// request (a CSP violation is one), every chart present, sized and named,
// and no horizontal scrolling on the phone.
func TestBrowserPages(t *testing.T) {
	b := newBrowser(t)
	srv := newFixture(t, 60).server(t, "127.0.0.1:8765", "")
	pages := []struct {
		path   string
		charts int // at least
	}{
		{"/", 5}, {"/risks", 0}, {"/risks?status=open&kind=threat", 0}, {"/risks/R-1", 0}, {"/risks/R-2", 0},
		{"/sprints", 1}, {"/sprints/1", 1}, {"/scans", 1}, {"/syncs", 0},
		{"/reports/register", 3}, {"/reports/sprint", 1}, {"/reports/scan", 1}, {"/reports/readiness", 1},
	}
	// The watch sees a failed request: a page that is not there.
	b.do("load a missing page", chromedp.Navigate(srv.URL+"/risks/R-404"), chromedp.WaitReady("footer"))
	time.Sleep(150 * time.Millisecond)
	if ps := b.take(); len(ps) == 0 || !strings.Contains(strings.Join(ps, ";"), "HTTP 404") {
		t.Fatalf("the browser watch missed a 404: %q", ps)
	}
	failed := false
	for _, width := range []int64{1280, 390} {
		b.do("viewport", chromedp.EmulateViewport(width, 844))
		for _, p := range pages {
			name := fmt.Sprintf("%s at %dpx", p.path, width)
			b.do("load "+name, chromedp.Navigate(srv.URL+p.path), chromedp.WaitReady("footer"))
			// Let late requests (favicon) finish before reading the problems.
			time.Sleep(150 * time.Millisecond)
			boxes := eval[[]chartBox](b, "charts of "+name, chartsJS)
			if len(boxes) < p.charts {
				t.Errorf("%s: %d charts, want at least %d", name, len(boxes), p.charts)
			}
			for _, c := range boxes {
				if c.Width < 100 || c.Height < 40 || !c.Named {
					t.Errorf("%s: chart %s is %.0f×%.0f px, named %v", name, c.ID, c.Width, c.Height, c.Named)
				}
				if c.Width > float64(width) {
					t.Errorf("%s: chart %s is wider (%.0f px) than the viewport", name, c.ID, c.Width)
				}
			}
			scroll := eval[[]float64](b, "widths of "+name, `[document.documentElement.scrollWidth, window.innerWidth]`)
			if scroll[0] > scroll[1] {
				wide := eval[[]string](b, "wide elements of "+name, `Array.from(document.querySelectorAll('body, body *')).filter(e => e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible' && e.clientWidth > 0 && e.namespaceURI !== 'http://www.w3.org/2000/svg').slice(0, 8).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + (e.getAttribute('class') || '') + ' ' + e.clientWidth + '/' + e.scrollWidth + 'px')`)
				t.Errorf("%s scrolls sideways: the page is %.0f px wide in a %.0f px window; overflowing: %s", name, scroll[0], scroll[1], strings.Join(wide, ", "))
			}
			h1 := eval[string](b, "heading of "+name, `(document.querySelector('h1') || {}).textContent || ''`)
			if strings.TrimSpace(h1) == "" {
				t.Errorf("%s has no h1", name)
			}
			if ps := b.take(); len(ps) > 0 {
				t.Errorf("%s: %s", name, strings.Join(ps, "; "))
			}
			if t.Failed() && !failed {
				b.shot(name)
			}
			failed = t.Failed()
		}
	}
}

// TestBrowserLogin signs in through the form on a hub that listens beyond
// loopback: a page sends the browser to the form, a wrong token is refused
// there, the right one leads back to the page asked for.
func TestBrowserLogin(t *testing.T) {
	const token = "browser-read-token"
	b := newBrowser(t)
	srv := newFixture(t, 8).server(t, "0.0.0.0:8765", token)

	b.do("open a page", chromedp.Navigate(srv.URL+"/risks?kind=threat"), chromedp.WaitVisible("#token"))
	if loc := eval[string](b, "location", `location.pathname + location.search`); !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("the page went to %s, not the login form", loc)
	}
	if ps := b.take(); len(ps) > 0 {
		t.Errorf("login form: %s", strings.Join(ps, "; "))
	}
	b.do("wrong token", chromedp.SendKeys("#token", "not-it"), chromedp.Submit("#token"), chromedp.WaitVisible(`[role=alert]`))
	b.take() // the 401 of the refused sign-in is expected
	b.do("right token", chromedp.SendKeys("#token", token), chromedp.Submit("#token"))
	b.waitFor("the page asked for after sign-in", `location.pathname + location.search === "/risks?kind=threat" && document.querySelector("form.filters") !== null`)
	b.do("overview", chromedp.Navigate(srv.URL+"/"), chromedp.WaitReady("footer"))
	if n := eval[int](b, "charts", `document.querySelectorAll('svg.chart').length`); n < 5 {
		t.Errorf("signed in, the overview shows %d charts", n)
	}
	b.do("sign out", chromedp.Click("footer button"))
	b.waitFor("the login form after signing out", `document.querySelector("#token") !== null`)
	if ps := b.take(); len(ps) > 0 {
		t.Errorf("after sign-in: %s", strings.Join(ps, "; "))
	}
	if t.Failed() {
		b.shot("login")
	}
}

// TestScreenshot writes a screenshot of the overview of the dashboard at
// USMHUB_SCREENSHOT_URL (e.g. the daemon of `make run`) to the PNG file
// USMHUB_SCREENSHOT; the README's docs/dashboard.png is made this way.
func TestScreenshot(t *testing.T) {
	out, u := os.Getenv("USMHUB_SCREENSHOT"), os.Getenv("USMHUB_SCREENSHOT_URL")
	if out == "" || u == "" {
		t.Skip("requires USMHUB_SCREENSHOT (a PNG file to write) and USMHUB_SCREENSHOT_URL (the page)")
	}
	b := newBrowser(t)
	b.do("load", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(u), chromedp.WaitReady("footer"))
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
