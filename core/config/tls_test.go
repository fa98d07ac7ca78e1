package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeSelfSigned writes a self-signed certificate and its key as PEM
// files cert.pem and key.pem into dir.
func writeSelfSigned(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "usmhub"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	writeSelfSigned(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	load := func(hub string) (*Config, error) {
		t.Helper()
		p := filepath.Join(dir, "usmhub.hcl")
		if err := os.WriteFile(p, []byte("hub {\n"+hub+"\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	cfg, err := load("  tls_cert = \"cert.pem\"\n  tls_key = \"key.pem\"")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Hub.TLSCert != filepath.Join(dir, "cert.pem") || cfg.Hub.TLSKey != filepath.Join(dir, "key.pem") {
		t.Errorf("TLSCert %q, TLSKey %q", cfg.Hub.TLSCert, cfg.Hub.TLSKey)
	}
	p := filepath.Join(dir, "usmhub.hcl")
	for hub, want := range map[string]string{
		"  tls_cert = \"cert.pem\"":                           p + ":2,14: Missing tls_key: tls_cert is set but tls_key is not",
		"  tls_key = \"key.pem\"":                             p + ":2,13: Missing tls_cert",
		"  tls_cert = \"nope.pem\"\n  tls_key = \"key.pem\"":  p + ":2,14: Invalid tls_cert: Cannot read " + filepath.Join(dir, "nope.pem") + ": no such file or directory",
		"  tls_cert = \"cert.pem\"\n  tls_key = \"junk.pem\"": p + ":2,14: Invalid tls_cert or tls_key: ",
		"  tls_cert = \"junk.pem\"\n  tls_key = \"key.pem\"":  p + ":2,14: Invalid tls_cert or tls_key: ",
	} {
		_, err := load(hub)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("hub {%s}: %v\nwant %s", hub, err, want)
		}
	}
}
