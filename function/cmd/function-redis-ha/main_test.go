package main

import (
	"testing"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"
)

// TestFlags pins the command line Crossplane, `crossplane render` and the e2e harness use.
func TestFlags(t *testing.T) {
	cases := map[string]struct {
		reason string
		args   []string
		env    map[string]string
		want   CLI
	}{
		"Defaults": {
			reason: "The function listens on :9443 with mTLS and serves no metrics unless asked.",
			want:   CLI{Network: "tcp", Address: ":9443", MaxRecvMessageSize: 4},
		},
		"RenderDevelopment": {
			reason: "crossplane render's Development runtime talks to --insecure on localhost:9443.",
			args:   []string{"--insecure", "--debug", "--address=localhost:9443"},
			want:   CLI{Debug: true, Network: "tcp", Address: "localhost:9443", Insecure: true, MaxRecvMessageSize: 4},
		},
		"CertsFromEnvironment": {
			reason: "Crossplane's function runtime passes the certificate directory in TLS_SERVER_CERTS_DIR.",
			env:    map[string]string{"TLS_SERVER_CERTS_DIR": "/tls/server"},
			want:   CLI{Network: "tcp", Address: ":9443", TLSCertsDir: "/tls/server", MaxRecvMessageSize: 4},
		},
		"CertsFlagAndAlias": {
			reason: "--tls-certs-dir (the e2e harness) is an alias of --tls-server-certs-dir.",
			args:   []string{"--tls-certs-dir=/certs", "--metrics-address=:8080"},
			want:   CLI{Network: "tcp", Address: ":9443", TLSCertsDir: "/certs", MaxRecvMessageSize: 4, MetricsAddress: ":8080"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"TLS_SERVER_CERTS_DIR", "METRICS_ADDRESS"} {
				t.Setenv(k, tc.env[k])
			}
			var got CLI
			parser, err := kong.New(&got)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parser.Parse(tc.args); err != nil {
				t.Fatalf("%s\nParse(%v): %v", tc.reason, tc.args, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nParse(%v): -want, +got:\n%s", tc.reason, tc.args, diff)
			}
		})
	}
}
