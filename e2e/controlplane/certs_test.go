package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"strings"
	"testing"
)

func TestIssueVerifies(t *testing.T) {
	ca, err := NewCertificateAuthority("test-ca")
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCertificateAuthority("other-ca")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason  string
		req     CertificateRequest
		roots   *CertificateAuthority
		usage   x509.ExtKeyUsage
		host    string
		wantErr bool
	}{
		"ServerForLoopbackIP": {
			reason: "Crossplane dials dns:///127.0.0.1:<port> and checks the IP SAN",
			req:    CertificateRequest{CommonName: "fn", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true},
			roots:  ca, usage: x509.ExtKeyUsageServerAuth, host: "127.0.0.1",
		},
		"ServerForLocalhost": {
			reason: "kubectl and components may address the API server by name",
			req:    CertificateRequest{CommonName: "fn", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Server: true},
			roots:  ca, usage: x509.ExtKeyUsageServerAuth, host: "localhost",
		},
		"ServerWrongHost": {
			reason: "a certificate must not verify for an address it does not name",
			req:    CertificateRequest{CommonName: "fn", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true},
			roots:  ca, usage: x509.ExtKeyUsageServerAuth, host: "10.9.9.9", wantErr: true,
		},
		"ClientCert": {
			reason: "client certificates carry client auth usage",
			req:    CertificateRequest{CommonName: "admin", Organization: []string{"system:masters"}, Client: true},
			roots:  ca, usage: x509.ExtKeyUsageClientAuth,
		},
		"ClientCertNotServer": {
			reason: "a client-only certificate must not serve",
			req:    CertificateRequest{CommonName: "admin", Client: true},
			roots:  ca, usage: x509.ExtKeyUsageServerAuth, wantErr: true,
		},
		"OtherCA": {
			reason: "only the issuing CA is trusted",
			req:    CertificateRequest{CommonName: "fn", IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true},
			roots:  other, usage: x509.ExtKeyUsageServerAuth, host: "127.0.0.1", wantErr: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			certPEM, keyPEM, err := ca.Issue(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
				t.Fatalf("key is not a PKCS#8 PEM block")
			}
			b, _ := pem.Decode(certPEM)
			cert, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(tc.roots.Cert)
			_, err = cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: tc.host, KeyUsages: []x509.ExtKeyUsage{tc.usage}})
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Errorf("%s: Verify error = %v, want error: %t", tc.reason, err, tc.wantErr)
			}
		})
	}
}

func TestLoadCertificateAuthority(t *testing.T) {
	ca, err := NewCertificateAuthority("source")
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		reason  string
		key     []byte
		cert    []byte
		wantErr string
	}{
		"PKCS1RSA": {
			reason: "Crossplane's initializer writes RSA keys as PKCS#1",
			key:    pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), cert: ca.CertPEM,
		},
		"SEC1EC":   {reason: "EC keys in SEC 1 form", key: pemBlock("EC PRIVATE KEY", ecDER), cert: ca.CertPEM},
		"PKCS8":    {reason: "PKCS#8 keys", key: pemBlock("PRIVATE KEY", pkcs8), cert: ca.CertPEM},
		"NoKeyPEM": {reason: "garbage key", key: []byte("nope"), cert: ca.CertPEM, wantErr: "CA key: no PEM block"},
		"NoCertPEM": {
			reason: "garbage certificate", key: pemBlock("PRIVATE KEY", pkcs8), cert: []byte("nope"),
			wantErr: "CA certificate: no PEM block",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := LoadCertificateAuthority(tc.cert, tc.key)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error = %v, want it to contain %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if got.Cert.Subject.CommonName != "source" {
				t.Errorf("%s: CA common name = %q, want source", tc.reason, got.Cert.Subject.CommonName)
			}
		})
	}
}
