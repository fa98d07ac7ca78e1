package reconcile_test

// Benchmarks of the sync engine against the real store and the file
// connector, run as a built plugin binary through plugins/host as the hub
// runs it (docs/BENCHMARKS.md has the numbers and how to read them):
//
//	go test -run '^$' -bench . -benchmem -timeout 30m ./core/reconcile/
//
// BenchmarkNoopSync100k    100k linked risks, nothing changed: one run
// BenchmarkSyncChanged     10% and 100% of them changed on one side
// BenchmarkBarePipeline    the same records through a bare stream → hash →
//                          compare → batched upsert (no product code); the
//                          product benchmarks report their ratio to it
// BenchmarkPeakRSS         peak RSS of `usmhub sync` (and its plugin) at
//                          10k and 300k records ($USMHUB_BENCH_RSS sets the
//                          sizes, e.g. 10000,1000000: 1M takes about 6
//                          minutes on 2 cores)

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/core/model"
	hubsync "github.com/usmhub/usmhub/core/reconcile"
	"github.com/usmhub/usmhub/core/store"
	"github.com/usmhub/usmhub/plugins/connectortest"
	"github.com/usmhub/usmhub/plugins/host"
)

// benchN is the size of the linked data set of the sync benchmarks
// ($USMHUB_BENCH_N overrides it, for a quick try).
var benchN = func() int {
	if n, err := strconv.Atoi(os.Getenv("USMHUB_BENCH_N")); err == nil && n > 0 {
		return n
	}
	return 100_000
}()

// scratch is this process's folder for what benchmarks build once and share
// (binaries, fixtures). No TestMain removes it (another test file of the
// package may own TestMain): each process removes the folders of benchmark
// processes that are gone instead.
var scratch struct {
	once sync.Once
	dir  string
	err  error
}

const scratchPrefix = "usmhub-sync-bench-"

func scratchDir(b *testing.B) string {
	b.Helper()
	scratch.once.Do(func() {
		old, _ := filepath.Glob(filepath.Join(os.TempDir(), scratchPrefix+"*"))
		for _, d := range old {
			pid, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(filepath.Base(d), scratchPrefix), "-", 2)[0])
			if err == nil && pid != os.Getpid() && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				os.RemoveAll(d)
			}
		}
		scratch.dir, scratch.err = os.MkdirTemp("", fmt.Sprintf("%s%d-", scratchPrefix, os.Getpid()))
	})
	if scratch.err != nil {
		b.Fatal(scratch.err)
	}
	return scratch.dir
}

// The file connector and usmhub, built once into scratch/bin.
var bins struct {
	once         sync.Once
	connBin, hub string
	err          error
}

func binaries(b *testing.B) (connBin, usmhub string) {
	b.Helper()
	dir := filepath.Join(scratchDir(b), "bin")
	bins.once.Do(func() {
		if bins.err = os.MkdirAll(dir, 0o755); bins.err != nil {
			return
		}
		bins.connBin, bins.err = connectortest.BuildBinary("github.com/usmhub/usmhub/connectors/file", "file", dir)
		if bins.err != nil {
			return
		}
		bins.hub = filepath.Join(dir, "usmhub")
		if out, err := exec.Command("go", "build", "-o", bins.hub, "github.com/usmhub/usmhub/cmd/usmhub").CombinedOutput(); err != nil {
			bins.err = fmt.Errorf("go build usmhub: %v\n%s", err, out)
		}
	})
	if bins.err != nil {
		b.Fatal(bins.err)
	}
	return bins.connBin, bins.hub
}

// riskColumns are the columns of the file connector's risks file.
var riskColumns = []string{"id", "key", "title", "description", "kind", "process", "source", "likelihood", "impact",
	"effort", "owner", "status", "marker", "updated_at", "version", "deleted"}

// benchRisk is a risk of realistic size: a title and a paragraph.
func benchRisk(i int) model.Risk {
	kind := model.Threat
	if i%3 == 0 {
		kind = model.Opportunity
	}
	procs := []model.Process{model.Agree, model.Change, model.Recover, model.Operate, model.Improve}
	return model.Risk{Initiative: "t", Kind: kind, Status: model.Accepted,
		Title:       fmt.Sprintf("Improvement %d: incidents stay open too long", i),
		Description: "Tickets wait for a second-line team nobody owns; the sounding board raised it twice.",
		Process:     procs[i%len(procs)], Source: "scan", Owner: fmt.Sprintf("owner%d", i%17),
		Likelihood: 1 + i%5, Impact: 1 + (i/5)%5, Effort: float64(i%8) / 2}
}

// fixture is a hub and its sheet with n risks linked and in agreement, in
// the steady state of a binding last changed long ago: rows stamped one
// second apart, the newest an hour ago, the cursor at the newest.
type fixture struct {
	dir string
	n   int
}

var fixtures struct {
	mu sync.Mutex
	m  map[int]*fixture
}

func linkedFixture(b *testing.B, n int) *fixture {
	b.Helper()
	fixtures.mu.Lock()
	defer fixtures.mu.Unlock()
	if f := fixtures.m[n]; f != nil {
		return f
	}
	_, _ = binaries(b)
	start := time.Now()
	f := &fixture{dir: filepath.Join(scratchDir(b), fmt.Sprintf("linked-%d", n)), n: n}
	if err := os.RemoveAll(f.dir); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(f.dir, "data", "usmhub.db"))
	if err != nil {
		b.Fatal(err)
	}
	for from := 0; from < n; from += 10_000 {
		err := st.Update(ctx, store.Actor{Name: "bench"}, func(tx store.Tx) error {
			for i := from; i < min(from+10_000, n); i++ {
				r := benchRisk(i)
				if err := tx.CreateRisk(&r); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	// The sheet as the connector would have written it, each row carrying
	// its risk's marker.
	newest := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	sheet := filepath.Join(f.dir, "remote", "risks.csv")
	if err := os.MkdirAll(filepath.Dir(sheet), 0o755); err != nil {
		b.Fatal(err)
	}
	out, err := os.Create(sheet)
	if err != nil {
		b.Fatal(err)
	}
	w := csv.NewWriter(bufio.NewWriter(out))
	_ = w.Write(riskColumns)
	i := 0
	err = st.View(ctx, func(rd store.Reader) error {
		return rd.Risks(store.RiskFilter{}, func(r model.Risk) error {
			i++
			fields := hubsync.RiskFields(r)
			row := make([]string, len(riskColumns))
			for c, col := range riskColumns {
				row[c] = fields[col]
			}
			row[0] = "F-" + strconv.Itoa(i)
			row[12] = connector.Marker(r.ID)
			row[13] = newest.Add(time.Duration(i-n) * time.Second).Format(time.RFC3339)
			row[14] = "1"
			return w.Write(row)
		})
	})
	w.Flush()
	if err == nil {
		err = w.Error()
	}
	if err == nil {
		err = out.Close()
	}
	if err == nil {
		err = os.Chtimes(sheet, newest, newest) // as the connector leaves it
	}
	if err != nil {
		b.Fatal(err)
	}
	st.Close()

	// Link them: the first run finds every row by its marker (and, as of
	// this writing, sends each an update with no field: the base of a link
	// made from a marker lacks the marker it was seen with).
	hb := openHub(b, f.dir, 10_000, false)
	res := hb.run(b, hubsync.Options{})
	if res.Counts.Linked != n || res.Counts.PushCreates != 0 || res.Counts.HubUpdates != 0 {
		b.Fatalf("linking the fixture: %+v", res.Counts)
	}
	if res = hb.run(b, hubsync.Options{}); res.Counts.Changes() {
		b.Fatalf("the fixture is not settled: %+v", res.Counts)
	}
	hb.close()
	b.Logf("fixture: %d linked risks in %s", n, time.Since(start).Round(time.Second))
	if fixtures.m == nil {
		fixtures.m = map[int]*fixture{}
	}
	fixtures.m[n] = f
	return f
}

// clone copies the fixture into a folder of the benchmark's own.
func (f *fixture) clone(b *testing.B) string {
	b.Helper()
	dst := b.TempDir()
	err := filepath.Walk(f.dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.dir, p)
		target := filepath.Join(dst, rel)
		if fi.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		return os.Chtimes(target, fi.ModTime(), fi.ModTime())
	})
	if err != nil {
		b.Fatal(err)
	}
	return dst
}

// benchHub is an engine on a hub folder with the file connector plugin
// launched over its remote folder.
type benchHub struct {
	st      *store.SQLite
	host    *host.Host
	inst    *host.Instance
	engine  *hubsync.Engine
	binding hubsync.Binding
	sheet   string
}

func openHub(b *testing.B, dir string, batch int, pullOnly bool) *benchHub {
	b.Helper()
	connBin, _ := binaries(b)
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "data", "usmhub.db"))
	if err != nil {
		b.Fatal(err)
	}
	h, err := host.New(host.Options{Dirs: []string{filepath.Dir(connBin)}})
	if err != nil {
		b.Fatal(err)
	}
	inst, err := h.Launch(ctx, "file", "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	cfg, _ := connector.ConfigFromMap(map[string]any{"dir": filepath.Join(dir, "remote")})
	if err := inst.Configure(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	dirn := hubsync.Both
	if pullOnly {
		dirn = hubsync.Pull
	}
	return &benchHub{st: st, host: h, inst: inst, engine: &hubsync.Engine{Store: st}, sheet: filepath.Join(dir, "remote", "risks.csv"),
		binding: hubsync.Binding{Name: "risks", Kind: connector.KindRisk, Connector: "file.bench", Initiative: "t", Direction: dirn,
			Authority: hubsync.Authority{Default: hubsync.Remote}, OnDelete: hubsync.Close, BatchSize: batch, FullEvery: -1}}
}

func (h *benchHub) run(b *testing.B, opts hubsync.Options) *hubsync.Result {
	b.Helper()
	res, err := h.engine.Run(context.Background(), h.binding, h.inst, opts)
	if err != nil {
		b.Fatal(err)
	}
	return res
}

func (h *benchHub) close() {
	_ = h.host.Close()
	_ = h.st.Close()
}

// cpuClock measures the CPU time of this process and the plugin's.
type cpuClock struct {
	pid        int
	self, plug time.Duration
}

func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(pid int) *cpuClock { return &cpuClock{pid: pid, self: selfCPU(), plug: processCPU(pid)} }

// stop returns the CPU used since start by the hub side and the plugin.
func (c *cpuClock) stop() (hub, plugin time.Duration) {
	return selfCPU() - c.self, processCPU(c.pid) - c.plug
}

// report adds records/s, records per CPU-second and the CPU split to b.
func report(b *testing.B, records int, hubCPU, plugCPU time.Duration) {
	b.ReportMetric(float64(records)/b.Elapsed().Seconds(), "records/s")
	if cpu := hubCPU + plugCPU; cpu > 0 {
		b.ReportMetric(float64(records)/cpu.Seconds(), "records/cpu-s")
		b.ReportMetric(plugCPU.Seconds()/cpu.Seconds(), "plugin-cpu-share")
	}
}

// touch gives the sheet a new modification time, as an editor saving it
// unchanged does: the connector then lists every row.
func touch(b *testing.B, path string, at time.Time) {
	b.Helper()
	if err := os.Chtimes(path, at, at); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkNoopSync100k: 100k linked risks, nothing changed on either side.
//
// incremental: the steady state; the connector re-sends the rows within the
// lookback (5 minutes) of the newest, ~300 here, and the hub finds nothing
// to push among 100k risks. listed-all: the sheet was saved by an editor
// without a change, so the connector lists all 100k rows and the hub
// compares every one with its link (what a full reconcile costs, less the
// bookkeeping of which records were seen).
func BenchmarkNoopSync100k(b *testing.B) {
	f := linkedFixture(b, benchN)
	b.Run("incremental", func(b *testing.B) {
		hb := openHub(b, f.clone(b), hubsync.DefaultBatchSize, false)
		defer hb.close()
		hb.run(b, hubsync.Options{}) // stores the cursor of the copied file
		b.ReportAllocs()
		clock := startCPU(hb.inst.Pid())
		pulled := 0
		for b.Loop() {
			res := hb.run(b, hubsync.Options{})
			if res.Counts.Changes() {
				b.Fatalf("a no-op run changed something: %+v", res.Counts)
			}
			pulled += res.Counts.Pulled
		}
		hubCPU, plugCPU := clock.stop()
		report(b, benchN*b.N, hubCPU, plugCPU)
		b.ReportMetric(float64(pulled)/float64(b.N), "pulled/op")
	})
	b.Run("listed-all", func(b *testing.B) {
		hb := openHub(b, f.clone(b), hubsync.DefaultBatchSize, false)
		defer hb.close()
		b.ReportAllocs()
		clock := startCPU(hb.inst.Pid())
		at := time.Now()
		for b.Loop() {
			b.StopTimer()
			at = at.Add(time.Second)
			touch(b, hb.sheet, at)
			b.StartTimer()
			res := hb.run(b, hubsync.Options{})
			if res.Counts.Changes() || res.Counts.Pulled != benchN {
				b.Fatalf("a no-op run listing all: %+v", res.Counts)
			}
		}
		hubCPU, plugCPU := clock.stop()
		report(b, benchN*b.N, hubCPU, plugCPU)
		bare := bareRate(b, bareNoop)
		b.ReportMetric(bare, "bare-records/s")
		b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds()/bare, "product/bare")
	})
}

// BenchmarkSyncChanged: a share of the 100k linked risks changed on one
// side. remote: the sheet edited and saved by a person (the connector lists
// every row; the hub takes the changed ones). hub: risks changed in the hub
// and pushed, with batch_size 1000 (the file connector rewrites the whole
// file per push batch, so its push throughput grows with the batch size).
// records/s counts changed records.
func BenchmarkSyncChanged(b *testing.B) {
	f := linkedFixture(b, benchN)
	for _, pct := range []int{10, 100} {
		b.Run(fmt.Sprintf("remote/%dpct", pct), func(b *testing.B) {
			hb := openHub(b, f.clone(b), hubsync.DefaultBatchSize, false)
			defer hb.close()
			b.ReportAllocs()
			changed := 0
			var hubCPU, plugCPU time.Duration
			for round := 0; b.Loop(); round++ {
				b.StopTimer()
				want := editSheet(b, hb.sheet, pct, round)
				clock := startCPU(hb.inst.Pid())
				b.StartTimer()
				res := hb.run(b, hubsync.Options{})
				b.StopTimer()
				h, p := clock.stop()
				hubCPU, plugCPU = hubCPU+h, plugCPU+p
				if res.Counts.HubUpdates != want || res.Counts.PushUpdates != 0 || res.Counts.Conflicts != 0 {
					b.Fatalf("%d rows edited: %+v", want, res.Counts)
				}
				changed += want
				b.StartTimer()
			}
			report(b, changed, hubCPU, plugCPU)
			if pct == 100 {
				rate := float64(changed) / b.Elapsed().Seconds()
				bare := bareRate(b, bareChanged)
				b.ReportMetric(bare, "bare-records/s")
				b.ReportMetric(rate/bare, "product/bare")
				b.ReportMetric(rate/bareRate(b, bareFloor), "product/floor")
			}
		})
		b.Run(fmt.Sprintf("hub/%dpct", pct), func(b *testing.B) {
			hb := openHub(b, f.clone(b), 1000, false)
			defer hb.close()
			b.ReportAllocs()
			changed := 0
			var hubCPU, plugCPU time.Duration
			for round := 0; b.Loop(); round++ {
				b.StopTimer()
				want := editHub(b, hb.st, pct, round)
				clock := startCPU(hb.inst.Pid())
				b.StartTimer()
				res := hb.run(b, hubsync.Options{})
				b.StopTimer()
				h, p := clock.stop()
				hubCPU, plugCPU = hubCPU+h, plugCPU+p
				if res.Counts.PushUpdates != want || res.Counts.HubUpdates != 0 || res.Counts.Errors != 0 {
					b.Fatalf("%d risks edited: %+v", want, res.Counts)
				}
				changed += want
				b.StartTimer()
			}
			report(b, changed, hubCPU, plugCPU)
		})
	}
}

// editSheet changes the title of pct% of the rows as a person would (and
// bumps their updated_at), and returns how many it changed.
func editSheet(b *testing.B, path string, pct, round int) int {
	b.Helper()
	in, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(in))).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	now := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	n := 0
	for i, r := range rows[1:] {
		if i%(100/pct) != 0 {
			continue
		}
		r[col["title"]] = fmt.Sprintf("Row %d, edited in round %d", i, round)
		r[col["updated_at"]] = now
		n++
	}
	out, err := os.Create(path + ".editor")
	if err != nil {
		b.Fatal(err)
	}
	w := csv.NewWriter(bufio.NewWriter(out))
	if err := w.WriteAll(rows); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(path+".editor", path); err != nil {
		b.Fatal(err)
	}
	return n
}

// editHub changes the owner of pct% of the hub's risks and returns how
// many it changed.
func editHub(b *testing.B, st store.Store, pct, round int) int {
	b.Helper()
	ctx := context.Background()
	var ids []string
	i := 0
	err := st.View(ctx, func(rd store.Reader) error {
		return rd.Risks(store.RiskFilter{}, func(r model.Risk) error {
			if i%(100/pct) == 0 {
				ids = append(ids, r.ID)
			}
			i++
			return nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	err = st.Update(ctx, store.Actor{Name: "bench"}, func(tx store.Tx) error {
		for _, id := range ids {
			r, err := tx.Risk(id)
			if err != nil {
				return err
			}
			r.Owner = fmt.Sprintf("owner of round %d", round)
			if err := tx.UpdateRisk(&r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return len(ids)
}

// The bare pipeline: the same sheet streamed with encoding/csv, each row's
// fields hashed (FNV-1a), the hash compared with the one stored for its id
// (one indexed SELECT per row, as the product reads each record's link),
// and changed rows upserted in transactions of 500 (the connector's page)
// into a SQLite table, in WAL mode with synchronous=FULL like the store.
type bareMode int

const (
	bareNoop    bareMode = iota // every hash matches: nothing is written
	bareChanged                 // every hash differs: every row is upserted
	// bareFloor: every hash differs, and each changed row makes the writes
	// the hub's schema asks of a changed record (see floorPass): not the
	// target's yardstick, the floor under it.
	bareFloor
)

func (m bareMode) String() string { return [...]string{"noop", "changed", "floor"}[m] }

var bareRates struct {
	mu sync.Mutex
	m  map[bareMode]float64
}

// bareRate measures the bare pipeline over the fixture's sheet (best of
// three) once per process, outside the caller's timer.
func bareRate(b *testing.B, mode bareMode) float64 {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	bareRates.mu.Lock()
	defer bareRates.mu.Unlock()
	if r, ok := bareRates.m[mode]; ok {
		return r
	}
	f := linkedFixture(b, benchN)
	pass, closeDB := bareOpener(b, f, mode)
	defer closeDB()
	sheet := filepath.Join(f.dir, "remote", "risks.csv")
	pass(sheet, 0) // load the stored hashes
	best := 0.0
	for salt := 1; salt <= 3; salt++ {
		s := 0
		if mode != bareNoop {
			s = salt
		}
		start := time.Now()
		n, written := pass(sheet, s)
		rate := float64(n) / time.Since(start).Seconds()
		if (mode == bareNoop && written != 0) || (mode != bareNoop && written != n) {
			b.Fatalf("bare %s pass wrote %d of %d", mode, written, n)
		}
		best = max(best, rate)
	}
	if bareRates.m == nil {
		bareRates.m = map[bareMode]float64{}
	}
	bareRates.m[mode] = best
	return best
}

func openBare(b *testing.B) *sql.DB {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bare.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE recs (id TEXT PRIMARY KEY, hash INTEGER NOT NULL, fields TEXT NOT NULL) STRICT`); err != nil {
		b.Fatal(err)
	}
	return db
}

// barePass streams the sheet through the pipeline; salt changes every
// hash (0: the plain hash). It returns the rows read and written.
func barePass(b *testing.B, db *sql.DB, path string, salt int) (n, written int) {
	b.Helper()
	get, err := db.Prepare(`SELECT hash FROM recs WHERE id = ?`)
	if err != nil {
		b.Fatal(err)
	}
	defer get.Close()
	type rec struct {
		id     string
		hash   int64
		fields string
	}
	var batch []rec
	flush := func() {
		if len(batch) == 0 {
			return
		}
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		put, err := tx.Prepare(`INSERT INTO recs (id, hash, fields) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET hash = excluded.hash, fields = excluded.fields`)
		if err != nil {
			b.Fatal(err)
		}
		for _, x := range batch {
			if _, err := put.Exec(x.id, x.hash, x.fields); err != nil {
				b.Fatal(err)
			}
		}
		put.Close()
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		written += len(batch)
		batch = batch[:0]
	}
	n = streamSheet(b, path, salt, nil, func(row []string, hash uint64) {
		sum := int64(hash)
		var stored int64
		err := get.QueryRow(row[0]).Scan(&stored)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			b.Fatal(err)
		}
		if err == nil && stored == sum {
			return
		}
		fields, _ := json.Marshal(row[1:])
		batch = append(batch, rec{id: row[0], hash: sum, fields: string(fields)})
		if len(batch) == 500 {
			flush()
		}
	})
	flush()
	return n, written
}

// streamSheet reads the sheet with encoding/csv and hands each row to fn
// with the FNV-1a hash of its fields after the id (salt changes every
// hash; 0: the plain one), and the header to head (if given). It returns
// the rows read.
func streamSheet(b *testing.B, path string, salt int, head func([]string), fn func(row []string, hash uint64)) (n int) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 64<<10))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		b.Fatal(err)
	}
	if head != nil {
		head(header)
	}
	h := fnv.New64a()
	for {
		row, err := r.Read()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
		h.Reset()
		fmt.Fprint(h, salt)
		for _, v := range row[1:] {
			h.Write([]byte(v))
			h.Write([]byte{0})
		}
		fn(row, h.Sum64())
	}
}

// bareOpener returns the pass of mode over a database of its own, and
// what closes that database.
func bareOpener(b *testing.B, f *fixture, mode bareMode) (pass func(sheet string, salt int) (n, written int), closeDB func()) {
	b.Helper()
	if mode == bareFloor {
		db := openFloor(b, f)
		return func(sheet string, salt int) (int, int) { return floorPass(b, db, sheet, salt) }, func() { db.Close() }
	}
	db := openBare(b)
	return func(sheet string, salt int) (int, int) { return barePass(b, db, sheet, salt) }, func() { db.Close() }
}

// openFloor opens a copy of the fixture's hub database with the store's
// settings, for floorPass's raw statements.
func openFloor(b *testing.B, f *fixture) *sql.DB {
	b.Helper()
	path := filepath.Join(f.clone(b), "data", "usmhub.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_foreign_keys=on")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

// floorPass is barePass against the hub's own schema, with the writes a
// changed record asks of it and nothing else: per row, one indexed read of
// the record's link and risk (as the bare pipeline reads its hash); per
// changed row, the risk row's update (its version, change sequence and
// title, whose index moves), one audit row, and the link's new remote
// version and base. What the product does beyond this is the engine's own
// cost; what the bare pipeline does not do is what the schema costs.
func floorPass(b *testing.B, db *sql.DB, path string, salt int) (n, written int) {
	b.Helper()
	get, err := db.Prepare(`SELECT l.hub_id, l.remote_version, r.version FROM links l
		JOIN risks r ON r.id = l.hub_id WHERE l.binding = 'risks' AND l.external_id = ?`)
	if err != nil {
		b.Fatal(err)
	}
	defer get.Close()
	type rec struct {
		hubID, hash, title, fields string
		version                    int64
	}
	var batch []rec
	flush := func() {
		if len(batch) == 0 {
			return
		}
		tx, err := db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		stmts := make([]*sql.Stmt, 3)
		for i, q := range []string{
			`UPDATE risks SET title = ?, version = version + 1, updated_at = ?,
				change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM risks) WHERE id = ? AND version = ?`,
			`INSERT INTO audit (at, actor, run_id, entity, entity_id, field, old, new) VALUES (?, 'floor', 'run', 'risk', ?, 'title', '', ?)`,
			`UPDATE links SET remote_version = ?, base = ?, hub_version = ?, updated_at = ? WHERE binding = 'risks' AND hub_id = ?`,
		} {
			if stmts[i], err = tx.Prepare(q); err != nil {
				b.Fatal(err)
			}
		}
		at := time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00")
		for _, x := range batch {
			if _, err := stmts[0].Exec(x.title, at, x.hubID, x.version); err != nil {
				b.Fatal(err)
			}
			if _, err := stmts[1].Exec(at, x.hubID, x.title); err != nil {
				b.Fatal(err)
			}
			if _, err := stmts[2].Exec(x.hash, x.fields, x.version+1, at, x.hubID); err != nil {
				b.Fatal(err)
			}
		}
		for _, st := range stmts {
			st.Close()
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		written += len(batch)
		batch = batch[:0]
	}
	title := -1
	n = streamSheet(b, path, salt, func(header []string) { title = slices.Index(header, "title") }, func(row []string, hash uint64) {
		sum := strconv.FormatUint(hash, 16)
		var x rec
		if err := get.QueryRow(row[0]).Scan(&x.hubID, &x.hash, &x.version); err != nil {
			b.Fatalf("floor: row %s: %v", row[0], err)
		}
		if x.hash == sum {
			return
		}
		fields, _ := json.Marshal(row[1:])
		x.hash, x.title, x.fields = sum, row[title]+" "+sum, string(fields)
		batch = append(batch, x)
		if len(batch) == 500 {
			flush()
		}
	})
	flush()
	return n, written
}

// BenchmarkBarePipeline reports the bare pipeline's records/s on the 100k
// sheet; the product benchmarks divide by these. floor: the changed pass
// against the hub's schema (floorPass).
func BenchmarkBarePipeline(b *testing.B) {
	for _, mode := range []bareMode{bareNoop, bareChanged, bareFloor} {
		b.Run(mode.String(), func(b *testing.B) {
			f := linkedFixture(b, benchN)
			pass, closeDB := bareOpener(b, f, mode)
			defer closeDB()
			sheet := filepath.Join(f.dir, "remote", "risks.csv")
			pass(sheet, 0)
			b.ReportAllocs()
			b.ResetTimer()
			salt := 0
			for b.Loop() {
				if mode != bareNoop {
					salt++
				}
				pass(sheet, salt)
			}
			b.ReportMetric(float64(benchN*b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// BenchmarkPeakRSS runs `usmhub sync` as a subprocess, as a user does, over
// a sheet of N rows the hub has never seen (direction pull: the hub creates
// N risks, page by page), then once more after an editor saved the sheet
// unchanged (the connector lists N rows, the hub compares them). It reports
// the peak RSS (VmHWM) of usmhub and of its connector plugin in each run.
// The goal is a flat hub: it streams, it never holds every record.
func BenchmarkPeakRSS(b *testing.B) {
	sizes := []int{10_000, 300_000} // 1M: ~6 minutes on 2 cores; set USMHUB_BENCH_RSS
	if v := os.Getenv("USMHUB_BENCH_RSS"); v != "" {
		sizes = nil
		for _, s := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				b.Fatalf("USMHUB_BENCH_RSS=%q: %v", v, err)
			}
			sizes = append(sizes, n)
		}
	}
	connBin, usmhub := binaries(b)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			var pullHub, pullPlug, noopHub, noopPlug, maxrss int64
			var noopTook time.Duration
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				writeRSSHub(b, dir, n)
				b.StartTimer()
				hub, plug, rus := runMeasured(b, usmhub, connBin, dir)
				b.StopTimer()
				pullHub, pullPlug, maxrss = max(pullHub, hub), max(pullPlug, plug), max(maxrss, rus)
				touch(b, filepath.Join(dir, "remote", "risks.csv"), time.Now())
				start := time.Now()
				hub, plug, _ = runMeasured(b, usmhub, connBin, dir)
				noopTook = time.Since(start)
				noopHub, noopPlug = max(noopHub, hub), max(noopPlug, plug)
				b.StartTimer()
			}
			mb := func(kb int64) float64 { return float64(kb) / 1024 }
			b.ReportMetric(mb(pullHub), "pull-hub-MB")
			b.ReportMetric(mb(pullPlug), "pull-plugin-MB")
			b.ReportMetric(mb(noopHub), "noop-hub-MB")
			b.ReportMetric(mb(noopPlug), "noop-plugin-MB")
			b.ReportMetric(float64(n)/(b.Elapsed().Seconds()/float64(b.N)), "records/s")
			b.Logf("%d records: pull %s, hub %.0f MB (rusage max of hub and waited children %.0f MB), plugin %.0f MB; no-op listing %s, hub %.0f MB, plugin %.0f MB",
				n, (b.Elapsed() / time.Duration(b.N)).Round(time.Millisecond), mb(pullHub), mb(maxrss), mb(pullPlug), noopTook.Round(time.Millisecond), mb(noopHub), mb(noopPlug))
		})
	}
}

// writeRSSHub writes a hub config (direction pull) and a sheet of n rows
// the hub has not seen, stamped one second apart.
func writeRSSHub(b *testing.B, dir string, n int) {
	b.Helper()
	cfg := `
hub {
  data_dir = "data"
  strategy = "erp"
}
initiative "t" {
  name = "Peak RSS"
}
connector "file" "sheet" {
  dir = "remote"
}
sync "risks" {
  kind      = "risk"
  connector = "file.sheet"
  direction = "pull"
}
`
	if err := os.WriteFile(filepath.Join(dir, "usmhub.hcl"), []byte(cfg), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "remote"), 0o755); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(dir, "remote", "risks.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	newest := time.Now().UTC().Truncate(time.Second).Add(-time.Hour)
	fmt.Fprintln(w, "id,title,description,kind,process,likelihood,impact,effort,owner,status,updated_at")
	for i := 1; i <= n; i++ {
		r := benchRisk(i)
		fmt.Fprintf(w, "U-%d,%s,%s,%s,%s,%d,%d,%g,%s,%s,%s\n", i, r.Title, r.Description, r.Kind, r.Process,
			r.Likelihood, r.Impact, r.Effort, r.Owner, r.Status, newest.Add(time.Duration(i-n)*time.Second).Format(time.RFC3339))
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Chtimes(path, newest, newest); err != nil {
		b.Fatal(err)
	}
}

// runMeasured runs `usmhub sync` in dir and returns the peak RSS (KB) of
// usmhub and of its plugin, polled from /proc/PID/status VmHWM, and the
// child's rusage ru_maxrss.
func runMeasured(b *testing.B, usmhub, connBin, dir string) (hubKB, plugKB, rusageKB int64) {
	b.Helper()
	cmd := exec.Command(usmhub, "sync")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "USMHUB_CONFIG=")
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	pid := cmd.Process.Pid
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		hubKB = max(hubKB, vmHWM(pid))
		for _, p := range childrenRunning(pid, connBin) {
			plugKB = max(plugKB, vmHWM(p))
		}
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("usmhub sync: %v\n%s", err, out)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				rusageKB = ru.Maxrss
			}
			return hubKB, plugKB, rusageKB
		case <-tick.C:
		}
	}
}

// vmHWM reads a process's peak resident set size in KB.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb
		}
	}
	return 0
}

// childrenRunning returns the children of parent running the binary exe.
func childrenRunning(parent int, exe string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err != nil || target != exe {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(st)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			pids = append(pids, pid)
		}
	}
	return pids
}
