package host

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/usmhub/usmhub/plugins/internal/testconnector"
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
	ps := plugin.PluginSet{sdk.PluginName: &sdk.GRPCPlugin{Factory: testconnector.New}}
	client, server := plugin.TestPluginGRPCConn(b, false, ps)
	b.Cleanup(func() { _ = client.Close(); server.Stop() })
	raw, err := client.Dispense(sdk.PluginName)
	if err != nil {
		b.Fatal(err)
	}
	return raw.(sdk.Connector)
}

// bareBinaryBench launches the test connector binary serving the bare
// baseline, with the host's client settings (gRPC, AutoMTLS).
func bareBinaryBench(b *testing.B) *testconnector.BareClient {
	cmd := exec.Command(filepath.Join(binDir, "usmhub-connector-test"))
	cmd.Env = []string{"USMHUB_TESTCONNECTOR_BARE=1"}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		Plugins:          plugin.PluginSet{sdk.PluginName: &testconnector.BarePlugin{}},
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
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		b.Fatal(err)
	}
	return raw.(*testconnector.BareClient)
}

// BenchmarkPull measures records/s pulled: through the built plugin binary
// (AutoMTLS, the hub's Instance), through the same connector in-process
// over real gRPC (InProcess, and go-plugin's TestPluginGRPCConn), and the
// bare baseline: the same messages through the plugin binary with no SDK.
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
		c := bareBinaryBench(b)
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
// binary, in-process, and the bare baseline binary, in one run, and reports
// each rate and the ratios: binary/in-process (the cost of the process
// boundary and mTLS) and binary/bare (the cost of the SDK).
func BenchmarkPullRatio(b *testing.B) {
	i := launchBench(b)
	c := inProcessBench(b)
	bare := bareBinaryBench(b)
	const batchesPerRound = 20
	configure(b, i, benchConfig(batchesPerRound))
	configure(b, c, benchConfig(batchesPerRound))
	var tBinary, tInProcess, tBare time.Duration
	var nBinary, nInProcess, nBare int
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		nBinary += pullBatches(b, i)
		tBinary += time.Since(start)

		start = time.Now()
		nInProcess += pullBatches(b, c)
		tInProcess += time.Since(start)

		start = time.Now()
		n, err := bare.Pull(context.Background(), batchesPerRound, benchRecords, benchBytes)
		if err != nil {
			b.Fatal(err)
		}
		nBare += n
		tBare += time.Since(start)
	}
	rb := reportRate(b, nBinary, tBinary, "binary-records/s")
	ri := reportRate(b, nInProcess, tInProcess, "inprocess-records/s")
	rr := reportRate(b, nBare, tBare, "bare-records/s")
	b.ReportMetric(rb/ri, "binary/inprocess")
	b.ReportMetric(rb/rr, "binary/bare")
}

// BenchmarkLaunch measures launch to first call: discover, exec,
// handshake with AutoMTLS, Describe, Configure and Check, then close.
func BenchmarkLaunch(b *testing.B) {
	h := newHost(b, Options{Logger: hclog.NewNullLogger()})
	cfg, _ := sdk.ConfigFromMap(map[string]any{"project": "p"})
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		i, err := h.Launch(ctx, "test", "bench", "")
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
}
