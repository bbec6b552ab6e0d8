package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/devicebank/devicebank/notifications"
)

// The examples in docs/deploy are checked by the tools that read them.

// lookTool finds a tool a test needs, skipping without it unless the tool
// is mandatory under CI=true.
func lookTool(t *testing.T, name string, mandatoryInCI bool) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if mandatoryInCI && os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; it is mandatory under CI=true", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return path
}

// runTool runs a checker, which must succeed and print no warning.
func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	// nginx -t reports success on stderr; anything else is a complaint.
	report := regexp.MustCompile(`(?m)^nginx: (the configuration file .* syntax is ok|configuration file .* test is successful)\n`).ReplaceAllString(out.String(), "")
	if err != nil || strings.TrimSpace(report) != "" {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
}

// The systemd units pass systemd-analyze verify (which also checks that
// ExecStart is an executable: the test binary stands in for devicebank):
// the service, which gives serve longer to stop than serve's own shutdown
// deadline, and the nightly backup's timer and service.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := lookTool(t, "systemd-analyze", true)
	unit, err := os.ReadFile("../../docs/deploy/devicebank.service")
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const execStart = "ExecStart=/usr/local/bin/devicebank serve\n"
	if !bytes.Contains(unit, []byte(execStart)) {
		t.Fatalf("the unit has no line %q", execStart)
	}
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)$`).FindSubmatch(unit)
	if m == nil {
		t.Fatal("the unit sets no TimeoutStopSec in seconds")
	}
	// After its deadline serve still lets a message being sent finish.
	if stop, _ := time.ParseDuration(string(m[1]) + "s"); stop <= defaultShutdownTimeout+notifications.SendTimeout {
		t.Errorf("TimeoutStopSec=%s: systemd would kill serve before its shutdown deadline (%s) and a last send (%s)",
			m[1], defaultShutdownTimeout, notifications.SendTimeout)
	}
	dir := t.TempDir()
	units := []string{filepath.Join(dir, "devicebank.service")}
	if err := os.WriteFile(units[0], bytes.Replace(unit, []byte(execStart), []byte("ExecStart="+exe+" serve\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"devicebank-backup.timer", "devicebank-backup.service"} {
		b, err := os.ReadFile("../../docs/deploy/" + name)
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, filepath.Join(dir, name))
		if err := os.WriteFile(units[len(units)-1], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	runTool(t, analyze, append([]string{"verify"}, units...)...)
}

// The nginx example passes nginx -t inside a minimal main configuration,
// with a self-signed certificate in place of Let's Encrypt's. nginx is
// optional, in CI as well: the test skips without it.
func TestNginxExampleParses(t *testing.T) {
	nginx := lookTool(t, "nginx", false)
	site, err := os.ReadFile("../../docs/deploy/nginx-devicebank.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeSelfSigned(t, cert, key)
	conf := string(site)
	for from, to := range map[string]string{"/etc/letsencrypt/live/devicebank.example.org/fullchain.pem": cert,
		"/etc/letsencrypt/live/devicebank.example.org/privkey.pem": key} {
		if !strings.Contains(conf, from) {
			t.Fatalf("the example names no %s", from)
		}
		conf = strings.ReplaceAll(conf, from, to)
	}
	for _, want := range []string{"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_set_header X-Forwarded-Proto $scheme;",
		"server 127.0.0.1:8080;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("the example lacks %q", want)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "devicebank.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	main := "pid " + dir + "/nginx.pid;\nerror_log " + dir + "/error.log;\nevents {}\nhttp {\n  access_log off;\n  include " + dir + "/devicebank.conf;\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, nginx, "-t", "-q", "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
}

func writeSelfSigned(t *testing.T, certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "devicebank.example.org"},
		DNSNames: []string{"devicebank.example.org"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
}
