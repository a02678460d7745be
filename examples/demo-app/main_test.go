package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseFlags(t *testing.T) {
	cases := map[string]struct {
		reason  string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		"Defaults": {
			reason: "Without flags the app talks to the default tunnel port at 2000 writes/s.",
			args:   []string{"--key-prefix=p"},
			want:   config{addr: "127.0.0.1:6379", rate: 2000, timeout: 500 * time.Millisecond, readEvery: 10, keyPrefix: "p", progressDur: time.Second, gapReport: 100 * time.Millisecond},
		},
		"Environment": {
			reason: "Address, user and password come from the environment, as in a Kubernetes Deployment.",
			args:   []string{"--key-prefix=p"},
			env:    map[string]string{"REDIS_ADDR": "tunnel:6379", "REDIS_USERNAME": "app", "REDIS_PASSWORD": "s3cret"},
			want:   config{addr: "tunnel:6379", username: "app", password: "s3cret", rate: 2000, timeout: 500 * time.Millisecond, readEvery: 10, keyPrefix: "p", progressDur: time.Second, gapReport: 100 * time.Millisecond},
		},
		"ZeroRate": {
			reason:  "A zero rate would divide by zero; the error names the flag.",
			args:    []string{"--rate=0"},
			wantErr: "--rate must be between 1 and 100000 writes per second",
		},
		"StrayArgument": {
			reason:  "Positional arguments are a mistake, not silently ignored.",
			args:    []string{"127.0.0.1:6379"},
			wantErr: `unexpected argument "127.0.0.1:6379": demo-app takes flags only`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"REDIS_ADDR", "REDIS_USERNAME", "REDIS_PASSWORD"} {
				t.Setenv(k, tc.env[k])
			}
			got, err := parseFlags(tc.args)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.wantErr, gotErr); diff != "" {
				t.Fatalf("%s\nparseFlags(...): -want error, +got error:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(config{})); diff != "" {
				t.Errorf("%s\nparseFlags(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}
