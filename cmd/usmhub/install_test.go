package main

// make install as an operator runs it: the binaries, the service's config
// and the systemd unit land under PREFIX (or DESTDIR), the unit passes
// systemd-analyze verify, and the installed usmhub finds the installed
// connectors next to it and accepts the installed config.

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// requireTool returns the path of a command the test needs. Missing, it
// fails under CI=true (.ci/run installs it) and skips elsewhere.
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required (Debian package %s; .ci/run installs it): %v", name, pkg, err)
	}
	t.Skipf("requires %s (apt-get install %s); under CI=true this fails", name, pkg)
	return ""
}

// makeInstall runs make install with the binaries TestMain built (make's
// build step is taken as done) and the given variables.
func makeInstall(t *testing.T, vars ...string) string {
	t.Helper()
	args := append([]string{"-s", "-C", "../..", "-o", "build", "install", "BIN=" + filepath.Dir(usmhubBin)}, vars...)
	out, err := exec.Command("make", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestMakeInstallDestdir(t *testing.T) {
	requireTool(t, "make", "make")
	dest := t.TempDir()
	makeInstall(t, "DESTDIR="+dest)
	for _, f := range []string{
		"usr/local/bin/usmhub", "usr/local/bin/usmhub-connector-file",
		"etc/usmhub/usmhub.hcl", "etc/usmhub/usmhub.hcl.example",
		"usr/local/lib/systemd/system/usmhub.service", "usr/local/lib/sysusers.d/usmhub.conf",
	} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("make install DESTDIR=%s: %v", dest, err)
		}
	}
	unit, err := os.ReadFile(filepath.Join(dest, "usr/local/lib/systemd/system/usmhub.service"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "ExecStart=/usr/local/bin/usmhub -config /etc/usmhub/usmhub.hcl serve\n"; !strings.Contains(string(unit), want) {
		t.Errorf("the unit does not run the installed usmhub (%q):\n%s", want, unit)
	}

	// An operator's edited config survives the next install (an upgrade).
	conf := filepath.Join(dest, "etc/usmhub/usmhub.hcl")
	if err := os.WriteFile(conf, []byte("# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	makeInstall(t, "DESTDIR="+dest)
	if b, _ := os.ReadFile(conf); string(b) != "# edited\n" {
		t.Errorf("make install overwrote the operator's %s: %q", conf, b)
	}
}

// verifyUnit runs systemd-analyze verify on a unit file and returns what it
// said about that file (other units on the machine may be noisy).
func verifyUnit(t *testing.T, analyze, unit string) (string, error) {
	t.Helper()
	cmd := exec.Command(analyze, "verify", unit)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ours []string
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.Contains(l, filepath.Base(unit)) {
			ours = append(ours, l)
		}
	}
	return strings.Join(ours, "\n"), err
}

func TestInstalledServiceVerifies(t *testing.T) {
	requireTool(t, "make", "make")
	analyze := requireTool(t, "systemd-analyze", "systemd")
	// Installed under a scratch PREFIX, so that the unit names binaries
	// that exist: verify checks ExecStart's.
	root := t.TempDir()
	makeInstall(t, "PREFIX="+root+"/usr", "SYSCONFDIR="+root+"/etc")
	unit := filepath.Join(root, "usr/lib/systemd/system/usmhub.service")
	said, err := verifyUnit(t, analyze, unit)
	if err != nil || said != "" {
		t.Errorf("systemd-analyze verify %s: %v\n%s", unit, err, said)
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Type=notify", "ExecReload=/bin/kill -HUP $MAINPID", "User=usmhub", "StateDirectory=usmhub",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("the unit lacks %q", want)
		}
	}
	// The check sees a broken unit: a misspelt key and a bad type.
	bad := filepath.Join(root, "usmhub-broken.service")
	broken := strings.NewReplacer("ProtectClock=", "ProtectClok=", "Type=notify", "Type=notifyy").Replace(string(b))
	if err := os.WriteFile(bad, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if said, err := verifyUnit(t, analyze, bad); err == nil && !strings.Contains(said, "ProtectClok") {
		t.Errorf("systemd-analyze verify took a broken unit without a word: %q", said)
	}

	// The installed usmhub finds the installed connector next to it and
	// accepts the installed config.
	bin := filepath.Join(root, "usr/bin/usmhub")
	conf := filepath.Join(root, "etc/usmhub/usmhub.hcl")
	if out, err := exec.Command(bin, "plugins", "list").CombinedOutput(); err != nil || !strings.Contains(string(out), "file") {
		t.Errorf("installed usmhub plugins list: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "-config", conf, "validate", "-offline").CombinedOutput(); err != nil {
		t.Errorf("installed usmhub validate of the installed config: %v\n%s", err, out)
	}
}

// TestServeNotifiesSystemd: under systemd (Type=notify, $NOTIFY_SOCKET)
// serve says READY=1 once it serves, RELOADING=1 and READY=1 around a
// SIGHUP, STOPPING=1 at SIGTERM; the datagrams go to a socket of the test.
func TestServeNotifiesSystemd(t *testing.T) {
	h := newHub(t, testConfig)
	sock := filepath.Join(h.Dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cmd := exec.Command(usmhubBin, "serve", "-listen", freePort(t))
	cmd.Dir = h.Dir
	cmd.Env = append(os.Environ(), "USMHUB_CONFIG=", "NOTIFY_SOCKET="+sock)
	var logs lockedBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	next := func(want string) {
		t.Helper()
		buf := make([]byte, 256)
		_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != want {
			t.Fatalf("notification: %q, %v; want %q\n--- log ---\n%s", buf[:n], err, want, logs.String())
		}
	}
	next("READY=1")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	next("RELOADING=1")
	next("READY=1")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, logs.String())
	}
}
