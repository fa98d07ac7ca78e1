package host

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/testconnector"
	"github.com/usmhub/usmhub/plugins/internal/wire"
	"github.com/usmhub/usmhub/plugins/sdk"
)

// The pull benchmarks stream batches of benchRecords records of about
// benchBytes bytes each; b.N counts batches. Run:
//
//	go test -bench . -run '^$' ./plugins/host/
const (
	benchRecords = 500
	benchBytes   = 500
)

func benchConfig(batches int) map[string]any {
	return map[string]any{"batches": batches, "records": benchRecords, "record_bytes": benchBytes}
}

// pullBatches pulls once through c and returns the records received.
func pullBatches(b *testing.B, c sdk.Connector) int {
	n := 0
	err := c.Pull(context.Background(), sdk.PullRequest{Kind: sdk.KindRisk}, func(batch sdk.Batch) error {
		n += len(batch.Records)
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

func reportRate(b *testing.B, records int, d time.Duration, unit string) float64 {
	rate := float64(records) / d.Seconds()
	b.ReportMetric(rate, unit)
	return rate
}

// launchBench launches the built test connector for a benchmark.
func launchBench(b *testing.B) *Instance {
	h := newHost(b, Options{Logger: hclog.NewNullLogger()})
	i, err := h.Launch(context.Background(), "test", "bench", "")
	if err != nil {
		b.Fatal(err)
	}
	return i
}

// inProcessBench serves the test connector in-process (host.InProcess).
func inProcessBench(b *testing.B) sdk.Connector {
	c, stop, err := InProcess(testconnector.New)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return c
}

// testPluginConnBench serves the test connector through go-plugin's own
// test harness, plugin.TestPluginGRPCConn.
func testPluginConnBench(b *testing.B) sdk.Connector {
	ps := plugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{Factory: testconnector.New}}
	client, server := plugin.TestPluginGRPCConn(b, false, ps)
	b.Cleanup(func() { _ = client.Close(); server.Stop() })
	raw, err := client.Dispense(wire.PluginName)
	if err != nil {
		b.Fatal(err)
	}
	return raw.(sdk.Connector)
}

// bareBinaryBench launches the test connector binary serving the bare
// baseline, with the host's client settings (gRPC, AutoMTLS), and returns
// its client and the plugin's pid.
func bareBinaryBench(b *testing.B) (*testconnector.BareClient, int) {
	cmd := exec.Command(filepath.Join(binDir, "usmhub-connector-test"))
	cmd.Env = []string{"USMHUB_TESTCONNECTOR_BARE=1"}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake(wire.ProtocolVersion),
		Plugins:          plugin.PluginSet{wire.PluginName: &testconnector.BarePlugin{}},
		Cmd:              cmd,
		AutoMTLS:         true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           hclog.NewNullLogger(),
	})
	b.Cleanup(client.Kill)
	rpc, err := client.Client()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := rpc.Dispense(wire.PluginName)
	if err != nil {
		b.Fatal(err)
	}
	pid := 0
	if rc := client.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	return raw.(*testconnector.BareClient), pid
}

// cpuTime returns the CPU time the processes pids have used, from
// /proc/PID/task/*/schedstat (Linux; false elsewhere, or for a process gone).
func cpuTime(pids []int) (time.Duration, bool) {
	var total time.Duration
	for _, pid := range pids {
		stats, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
		if len(stats) == 0 {
			return 0, false
		}
		for _, f := range stats {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			var ns int64
			if _, err := fmt.Sscan(string(b), &ns); err != nil {
				return 0, false
			}
			total += time.Duration(ns)
		}
	}
	return total, true
}

// phase accumulates the wall time, CPU time and records of one way of
// pulling in BenchmarkPullRatio.
type phase struct {
	pids    []int // this process's and the plugin's, if any
	wall    time.Duration
	cpu     time.Duration
	records int
	noCPU   bool // cpuTime failed once
}

// newPhase measures the CPU time of this process and the plugin's (0 when
// there is none; -1 when its pid is unknown: no CPU time then).
func newPhase(pluginPid int) *phase {
	p := &phase{pids: []int{os.Getpid()}}
	switch {
	case pluginPid > 0:
		p.pids = append(p.pids, pluginPid)
	case pluginPid < 0:
		p.noCPU = true
	}
	return p
}

// pluginPid returns pid, or -1 for 0 (unknown).
func pluginPid(pid int) int {
	if pid == 0 {
		return -1
	}
	return pid
}

func (p *phase) measure(pull func() int) {
	cpu0, ok0 := cpuTime(p.pids)
	start := time.Now()
	n := pull()
	p.wall += time.Since(start)
	cpu1, ok1 := cpuTime(p.pids)
	p.records += n
	p.cpu += cpu1 - cpu0
	p.noCPU = p.noCPU || !ok0 || !ok1
}

func (p *phase) rate() float64 { return float64(p.records) / p.wall.Seconds() }

func (p *phase) cpuPerRecord() float64 { return float64(p.cpu.Nanoseconds()) / float64(p.records) }

// BenchmarkPull measures records/s pulled: through the built plugin binary
// (AutoMTLS, the hub's Instance), through the same connector in-process
// over real gRPC (InProcess, and go-plugin's TestPluginGRPCConn), and the
// bare baseline: as many batches of as many records of as many bytes, each
// record an opaque bytes payload, through the plugin binary with no SDK
// (testconnector.BarePlugin).
func BenchmarkPull(b *testing.B) {
	b.Run("binary-automtls", func(b *testing.B) {
		i := launchBench(b)
		configure(b, i, benchConfig(b.N))
		b.ResetTimer()
		start := time.Now()
		n := pullBatches(b, i)
		reportRate(b, n, time.Since(start), "records/s")
	})
	b.Run("inprocess", func(b *testing.B) {
		c := inProcessBench(b)
		configure(b, c, benchConfig(b.N))
		b.ResetTimer()
		start := time.Now()
		n := pullBatches(b, c)
		reportRate(b, n, time.Since(start), "records/s")
	})
	b.Run("testpluginconn", func(b *testing.B) {
		c := testPluginConnBench(b)
		configure(b, c, benchConfig(b.N))
		b.ResetTimer()
		start := time.Now()
		n := pullBatches(b, c)
		reportRate(b, n, time.Since(start), "records/s")
	})
	b.Run("bare-binary-automtls", func(b *testing.B) {
		c, _ := bareBinaryBench(b)
		b.ResetTimer()
		start := time.Now()
		n, err := c.Pull(context.Background(), b.N, benchRecords, benchBytes)
		if err != nil {
			b.Fatal(err)
		}
		reportRate(b, n, time.Since(start), "records/s")
	})
}

// BenchmarkPullRatio pulls the same number of batches through the plugin
// binary, in-process, and the bare baseline binary, interleaved in one run,
// and reports each rate and the ratios binary/bare (what the SDK keeps of
// what go-plugin, gRPC and mTLS can do: the goal is 2/3 or more) and
// binary/inprocess (the cost of the process boundary and mTLS).
//
// On Linux it also reports the CPU time per record, of this process and the
// plugin's together, of the binary and the bare pulls, and their ratio
// bare/binary-cpu: on a machine whose cores other work shares, the rates
// wander from run to run, the CPU a record costs much less.
func BenchmarkPullRatio(b *testing.B) {
	i := launchBench(b)
	c := inProcessBench(b)
	bare, barePid := bareBinaryBench(b)
	const batchesPerRound = 20
	configure(b, i, benchConfig(batchesPerRound))
	configure(b, c, benchConfig(batchesPerRound))
	binary, inProcess, bareRun := newPhase(pluginPid(i.Pid())), newPhase(0), newPhase(pluginPid(barePid))
	b.ResetTimer()
	for range b.N {
		binary.measure(func() int { return pullBatches(b, i) })
		inProcess.measure(func() int { return pullBatches(b, c) })
		bareRun.measure(func() int {
			n, err := bare.Pull(context.Background(), batchesPerRound, benchRecords, benchBytes)
			if err != nil {
				b.Fatal(err)
			}
			return n
		})
	}
	b.ReportMetric(binary.rate(), "binary-records/s")
	b.ReportMetric(inProcess.rate(), "inprocess-records/s")
	b.ReportMetric(bareRun.rate(), "bare-records/s")
	b.ReportMetric(binary.rate()/inProcess.rate(), "binary/inprocess")
	b.ReportMetric(binary.rate()/bareRun.rate(), "binary/bare")
	if !binary.noCPU && !bareRun.noCPU {
		b.ReportMetric(binary.cpuPerRecord(), "binary-cpu-ns/record")
		b.ReportMetric(bareRun.cpuPerRecord(), "bare-cpu-ns/record")
		b.ReportMetric(bareRun.cpuPerRecord()/binary.cpuPerRecord(), "bare/binary-cpu")
	}
}

// BenchmarkLaunch measures launch to first call: discover, exec,
// handshake with AutoMTLS, Describe, Configure and Check, then close (not
// timed). BenchmarkLaunchPinned does the same with a plugin_sha256 pin,
// BenchmarkLaunchCold both as a process's first launch of the binary, and
// BenchmarkLaunchBare is the baseline: a bare go-plugin launch of the same
// binary with AutoMTLS and one call. `-bench Launch` runs them all.
//
// They measure a hub's steady state: the binary was built a moment ago, so
// they first wait until it counts as settled (settleTime) and hash it once,
// untimed, as a hub does at its first launch of it (see digestCache). Each
// also reports the CPU time a launch costs, the hub's and the plugin
// process's over its whole life (cpu-ms/op, with close), which a loaded
// machine stretches much less than the wall time.
func BenchmarkLaunch(b *testing.B) {
	benchLaunch(b, "", false)
}

// BenchmarkLaunchPinned is BenchmarkLaunch with the binary pinned by its
// sha256 (the host's check and go-plugin's SecureConfig).
func BenchmarkLaunchPinned(b *testing.B) {
	benchLaunch(b, testBinarySHA256(b), false)
}

// BenchmarkLaunchCold is BenchmarkLaunch, unpinned and pinned, as the first
// launch of the binary in a hub process (every CLI run): the digest cache
// is emptied, untimed, before each launch, so each reads the binary in full.
func BenchmarkLaunchCold(b *testing.B) {
	pin := testBinarySHA256(b)
	b.Run("unpinned", func(b *testing.B) { benchLaunch(b, "", true) })
	b.Run("pinned", func(b *testing.B) { benchLaunch(b, pin, true) })
}

func testBinarySHA256(b *testing.B) string {
	sum, err := FileSHA256(filepath.Join(binDir, "usmhub-connector-test"))
	if err != nil {
		b.Fatal(err)
	}
	return sum
}

// forgetDigests empties the digest cache.
func forgetDigests() {
	digests.mu.Lock()
	clear(digests.byPath)
	digests.mu.Unlock()
}

func benchLaunch(b *testing.B, pin string, cold bool) {
	waitSettled(b, filepath.Join(binDir, "usmhub-connector-test"))
	h := newHost(b, Options{Logger: hclog.NewNullLogger()})
	cfg, _ := sdk.ConfigFromMap(map[string]any{"project": "p"})
	ctx := context.Background()
	cpu := startCPU()
	b.ResetTimer()
	for range b.N {
		if cold {
			b.StopTimer()
			forgetDigests()
			b.StartTimer()
		}
		i, err := h.Launch(ctx, "test", "bench", pin)
		if err != nil {
			b.Fatal(err)
		}
		if err := i.Configure(ctx, cfg); err != nil {
			b.Fatal(err)
		}
		if err := i.Check(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = i.Close()
		b.StartTimer()
	}
	cpu.report(b)
}

// waitSettled waits until the file at path counts as settled for the
// digest cache, and hashes it once.
func waitSettled(b *testing.B, path string) {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	if key, ok := keyOf(fi); ok {
		last := time.Unix(0, max(key.mtime, key.ctime))
		time.Sleep(time.Until(last.Add(settleTime + 10*time.Millisecond)))
	}
	if _, err := FileSHA256(path); err != nil {
		b.Fatal(err)
	}
}

// launchCPU measures the CPU time per launch of a launch benchmark.
type launchCPU struct {
	self, children time.Duration
	ok             bool
}

func startCPU() launchCPU {
	self, children, ok := processCPU()
	return launchCPU{self, children, ok}
}

// report reports the CPU time per op since startCPU: cpu-ms/op (hub and
// plugin), hub-cpu-ms/op and plugin-cpu-ms/op.
func (c launchCPU) report(b *testing.B) {
	self, children, ok := processCPU()
	if !ok || !c.ok {
		return
	}
	n := float64(b.N) * 1e6
	b.ReportMetric(float64(self-c.self+children-c.children)/n, "cpu-ms/op")
	b.ReportMetric(float64(self-c.self)/n, "hub-cpu-ms/op")
	b.ReportMetric(float64(children-c.children)/n, "plugin-cpu-ms/op")
}

// minimalHandshake is the handshake of the minimal plugin
// (plugins/internal/testconnector/cmd/usmhub-minimal-plugin).
var minimalHandshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "USMHUB_MINIMAL_PLUGIN_COOKIE", MagicCookieValue: "minimal"}

// minimalBinary builds the minimal plugin once, the way connectors are
// built (buildConnector), and returns its path.
var minimalBinary = sync.OnceValues(func() (string, error) {
	path := filepath.Join(binDir, "usmhub-minimal-plugin")
	return path, buildConnector(path, "../internal/testconnector/cmd/usmhub-minimal-plugin")
})

// BenchmarkLaunchMinimal is the floor of a launch on this machine: go-plugin
// alone (gRPC, AutoMTLS) starts the smallest go-plugin gRPC plugin there is
// (usmhub-minimal-plugin: go-plugin, gRPC and the bench protocol, no SDK, no
// connector code), dispenses it and makes one call, as BenchmarkLaunchBare
// does with the test connector binary. LaunchBare ÷ LaunchMinimal is what
// the connector binary's own code costs at a launch.
func BenchmarkLaunchMinimal(b *testing.B) {
	bin, err := minimalBinary()
	if err != nil {
		b.Fatal(err)
	}
	benchBareLaunch(b, bin, nil, minimalHandshake, "minimal")
}

// BenchmarkLaunchBare is the launch baseline: go-plugin alone (gRPC,
// AutoMTLS, no checksum, no SDK) starts the test connector binary as the
// bare plugin, dispenses it and makes one call (a Pull of one record); the
// kill is not timed. BenchmarkLaunch ÷ BenchmarkLaunchBare is what the host
// adds to a launch.
func BenchmarkLaunchBare(b *testing.B) {
	benchBareLaunch(b, filepath.Join(binDir, "usmhub-connector-test"), []string{"USMHUB_TESTCONNECTOR_BARE=1"},
		wire.Handshake(wire.ProtocolVersion), wire.PluginName)
}

// benchBareLaunch launches the bare plugin named name from bin with env and
// handshake hs through go-plugin alone, b.N times, and makes one call each.
func benchBareLaunch(b *testing.B, bin string, env []string, hs plugin.HandshakeConfig, name string) {
	ctx := context.Background()
	cpu := startCPU()
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(bin)
		cmd.Env = env
		client := plugin.NewClient(&plugin.ClientConfig{
			HandshakeConfig:  hs,
			Plugins:          plugin.PluginSet{name: &testconnector.BarePlugin{}},
			Cmd:              cmd,
			AutoMTLS:         true,
			AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
			Logger:           hclog.NewNullLogger(),
		})
		rpc, err := client.Client()
		if err != nil {
			b.Fatal(err)
		}
		raw, err := rpc.Dispense(name)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := raw.(*testconnector.BareClient).Pull(ctx, 1, 1, 1); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		client.Kill()
		b.StartTimer()
	}
	cpu.report(b)
}
