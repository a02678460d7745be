package tunnel

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// testCA issues certificates for loopback names, for TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "redis-ha test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue returns a leaf certificate for localhost/127.0.0.1 usable by servers and clients.
func (ca *testCA) issue(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestIntegrationClientTLS terminates mutual TLS for clients: a client with a certificate
// from the CA works, one without is refused, and the upstream stays plain TCP.
func TestIntegrationClientTLS(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	ca := newTestCA(t)
	tun := startTunnel(t, c, func(cfg *Config) {
		cfg.ClientTLS = &tls.Config{
			Certificates: []tls.Certificate{ca.issue(t, "tunnel")},
			ClientCAs:    ca.pool,
			ClientAuth:   tls.RequireAndVerifyClientCert,
			MinVersion:   tls.VersionTLS12,
		}
	})
	addr := tun.MasterAddr(c.MasterName()).String()
	good := &tls.Config{RootCAs: ca.pool, Certificates: []tls.Certificate{ca.issue(t, "app")}, ServerName: "localhost"}
	conn, err := redis.Dial("tcp", addr, redis.DialUseTLS(true), redis.DialTLSConfig(good), redis.DialReadTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Do("SET", "tls", "yes"); err != nil {
		t.Fatal(err)
	}
	if got, err := redis.String(conn.Do("GET", "tls")); err != nil || got != "yes" {
		t.Fatalf("GET over TLS = %q, %v", got, err)
	}
	bad := &tls.Config{RootCAs: ca.pool, ServerName: "localhost"}
	badConn, err := redis.Dial("tcp", addr, redis.DialUseTLS(true), redis.DialTLSConfig(bad), redis.DialReadTimeout(2*time.Second))
	if err == nil {
		_, err = badConn.Do("PING")
		badConn.Close()
	}
	if err == nil {
		t.Fatal("client without certificate was served")
	}
}

// writePEM writes the CA and a leaf certificate/key as PEM files and returns their paths.
func (ca *testCA) writePEM(t *testing.T, leaf tls.Certificate) (caFile, certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalECPrivateKey(leaf.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	for file, block := range map[string]*pem.Block{
		caFile:   {Type: "CERTIFICATE", Bytes: ca.cert.Raw},
		certFile: {Type: "CERTIFICATE", Bytes: leaf.Certificate[0]},
		keyFile:  {Type: "EC PRIVATE KEY", Bytes: keyDER},
	} {
		if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caFile, certFile, keyFile
}

// TestIntegrationUpstreamTLSFailover runs Redis and Sentinel TLS-only: the tunnel's
// control connections and data path use TLS upstream (clients stay plain) and it follows
// a graceful failover without losing an acked write.
func TestIntegrationUpstreamTLSFailover(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	ca := newTestCA(t)
	caFile, certFile, keyFile := ca.writePEM(t, ca.issue(t, "redis"))
	clientTLS := &tls.Config{RootCAs: ca.pool, MinVersion: tls.VersionTLS12}
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{
		Replicas: 1, Sentinels: 3, DownAfter: time.Second, FailoverTimeout: 4 * time.Second,
		TLS: &redisproc.ClusterTLS{CertFile: certFile, KeyFile: keyFile, CAFile: caFile, Client: clientTLS},
	})
	name := c.MasterName()
	tun := startTunnel(t, c, func(cfg *Config) { cfg.UpstreamTLS = clientTLS })
	w := startWriter(t, tun.MasterAddr(name).String(), "tls")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })
	ctx := context.Background()
	newMaster, err := c.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "tunnel on the new master", func() bool { return tun.Status()[name].Master == newMaster.Addr() })
	before := w.count()
	waitFor(t, 5*time.Second, "writes after failover", func() bool { return w.count() > before+100 })
	w.halt()
	missing := missingKeys(t, newMaster, w.snapshot())
	if len(missing) > 0 {
		t.Errorf("%d acked keys missing after a TLS failover", len(missing))
	}
	t.Logf("RESULT upstream TLS: %d acked writes, %d lost", w.count(), len(missing))
}
