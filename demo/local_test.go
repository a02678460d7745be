package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

func TestRemapPath(t *testing.T) {
	mounts := map[string]string{"/data": "/tmp/p/data", "/etc/redis-ha": "/tmp/p/config", "/etc/redis-ha/tls": "/tmp/p/tls"}
	cases := map[string]struct {
		reason string
		path   string
		want   string
	}{
		"MountItself":   {reason: "The mount path maps to the local directory.", path: "/data", want: "/tmp/p/data"},
		"Below":         {reason: "A file below a mount keeps its relative path.", path: "/etc/redis-ha/redis.conf", want: "/tmp/p/config/redis.conf"},
		"LongestMount":  {reason: "The most specific mount wins, as in a container.", path: "/etc/redis-ha/tls/ca.crt", want: "/tmp/p/tls/ca.crt"},
		"SharedPrefix":  {reason: "/database is not below /data.", path: "/database", want: "/database"},
		"NotMounted":    {reason: "Paths outside every mount stay as they are.", path: "/usr/bin/redis-server", want: "/usr/bin/redis-server"},
		"RelativeWords": {reason: "Words that are no paths stay as they are.", path: "yes", want: "yes"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, remapPath(tc.path, mounts)); diff != "" {
				t.Errorf("%s\nremapPath(%q): -want, +got:\n%s", tc.reason, tc.path, diff)
			}
		})
	}
}

func TestRemapConfPaths(t *testing.T) {
	mounts := map[string]string{"/data": "/w/data"}
	conf := "port 6379\ndir /data\nappendfilename \"appendonly.aof\"\nlogfile \"/data/redis.log\"\n# /data in a comment is a path too\n"
	want := "port 6379\ndir /w/data\nappendfilename \"appendonly.aof\"\nlogfile \"/w/data/redis.log\"\n# /w/data in a comment is a path too\n"
	if diff := cmp.Diff(want, remapConfPaths(conf, mounts)); diff != "" {
		t.Errorf("remapConfPaths: -want, +got:\n%s", diff)
	}
}

func TestConfigDirective(t *testing.T) {
	conf := "dir /first\nport 6379\ndir \"/second\"\nsentinel monitor m h 1 2\n"
	if got := configDirective(conf, "dir"); got != "/second" {
		t.Errorf("configDirective(dir) = %q, want the last one, /second", got)
	}
	if got := configDirective(conf, "bind"); got != "" {
		t.Errorf("configDirective(bind) = %q, want empty for a missing directive", got)
	}
}

func TestExpandEnvRefs(t *testing.T) {
	env := map[string]string{"POD_NAME": "cache-redis-1"}
	got := expandEnvRefs("$(POD_NAME).cache-redis-headless.default.svc $(UNKNOWN)", env)
	want := "cache-redis-1.cache-redis-headless.default.svc $(UNKNOWN)"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("expandEnvRefs: -want, +got:\n%s", diff)
	}
}

// TestLocalizeExample renders the minimal example with the real function and localizes it:
// afterwards nothing the processes get may still name a cluster host or a container path.
func TestLocalizeExample(t *testing.T) {
	c, password, err := renderExample(context.Background(), filepath.Join("..", "examples", "redisha.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if password == "" {
		t.Error("renderExample returned no password; the example has auth on by default")
	}
	work := t.TempDir()
	l := newLocalizer(work)
	redisPods, err := l.pods(c, &c.redis, redisproc.KindServer)
	if err != nil {
		t.Fatal(err)
	}
	sentinelPods, err := l.pods(c, &c.sentinel, redisproc.KindSentinel)
	if err != nil {
		t.Fatal(err)
	}
	l.remap(redisPods, &c.redis)
	l.remap(sentinelPods, &c.sentinel)
	tunnel, err := l.localizeTunnel(c)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(redisPods), int(*c.redis.Spec.Replicas); got != want {
		t.Errorf("%d Redis pods localized, the StatefulSet has %d", got, want)
	}
	clusterish := func(what, s string) {
		t.Helper()
		for _, bad := range []string{".svc", "/etc/redis-ha", "/run/redis-ha", " /data", "=/data", ":6379", ":26379"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s still contains %q after localizing: %s", what, bad, s)
			}
		}
	}
	for _, p := range append(redisPods, sentinelPods...) {
		for k, v := range p.initEnv {
			clusterish(p.name+" init env "+k, v)
		}
		clusterish(p.name+" init command", strings.Join(p.initCmd, " "))
		clusterish(p.name+" config path", p.confPath)
		if !strings.HasPrefix(p.dataDir, work) {
			t.Errorf("%s data dir %s is outside the work dir %s", p.name, p.dataDir, work)
		}
		conf, err := os.ReadFile(filepath.Join(work, p.name, "config", "redis.conf"))
		if err != nil {
			t.Fatalf("%s: the composed ConfigMap was not written into its config volume: %v", p.name, err)
		}
		if configDirective(string(conf), "dir") != filepath.Join(work, p.name, "data") {
			t.Errorf("%s: redis.conf dir is %q, want the pod's local data volume", p.name, configDirective(string(conf), "dir"))
		}
	}
	for _, arg := range tunnel.args {
		clusterish("tunnel argument", arg)
	}
	if !strings.HasPrefix(tunnel.masterAddr, "127.0.0.1:") || !strings.HasPrefix(tunnel.metricsAddr, "127.0.0.1:") {
		t.Errorf("tunnel listens on %s and %s, want loopback", tunnel.masterAddr, tunnel.metricsAddr)
	}
}
