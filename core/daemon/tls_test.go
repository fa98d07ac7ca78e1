package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/core/schedule"
)

// selfSigned makes a self-signed certificate for 127.0.0.1 and returns it
// with a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "usmhub test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// TestServeTLS: with a certificate the API speaks HTTPS only, verified
// against that certificate.
func TestServeTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	h := start(t, fixed(&Runtime{Listen: loopback, TLS: cert, Jobs: []schedule.Job{{Name: "a", Spec: "@yearly", Run: noop}}}), Options{})
	base := strings.Replace(h.base, "http://", "https://", 1)
	client := &http.Client{Timeout: deadline, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET over TLS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		t.Errorf("GET over TLS: %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	if resp, err := (&http.Client{Timeout: deadline}).Get(h.base + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on a TLS listener")
		}
	}
	if strings.Contains(h.logs.String(), "without TLS") {
		t.Errorf("warned of no TLS while serving TLS:\n%s", h.logs)
	}
}

// TestWarnPlainHTTPBeyondLoopback: plain HTTP on every interface is
// warned about at start; on loopback it is not.
func TestWarnPlainHTTPBeyondLoopback(t *testing.T) {
	const warning = "listening beyond loopback without TLS"
	h := start(t, fixed(&Runtime{Listen: "0.0.0.0:0"}), Options{})
	if !strings.Contains(h.logs.String(), warning) {
		t.Errorf("no warning for plain HTTP on 0.0.0.0:\n%s", h.logs)
	}
	h = start(t, fixed(&Runtime{Listen: loopback}), Options{})
	if strings.Contains(h.logs.String(), warning) {
		t.Errorf("warning for plain HTTP on loopback:\n%s", h.logs)
	}
	cert, _ := selfSigned(t)
	h = start(t, fixed(&Runtime{Listen: "0.0.0.0:0", TLS: cert}), Options{})
	if strings.Contains(h.logs.String(), warning) {
		t.Errorf("warning with TLS on 0.0.0.0:\n%s", h.logs)
	}
}
