package tunnel

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"
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
