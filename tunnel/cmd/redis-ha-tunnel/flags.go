package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/redis-ha/redis-ha/tunnel"
)

// envPrefix prefixes the environment fallback of every flag: --max-clients is also read
// from REDIS_HA_TUNNEL_MAX_CLIENTS.
const envPrefix = "REDIS_HA_TUNNEL_"

// options is the parsed command line.
type options struct {
	Sentinels            []string
	Masters              []tunnel.Endpoint
	Replicas             []tunnel.Endpoint
	MetricsListen        string
	SentinelUsername     string
	SentinelPasswordFile string
	SentinelPassword     string
	RedisUsername        string
	RedisPasswordFile    string
	RedisPassword        string
	TLSCertFile          string
	TLSKeyFile           string
	TLSClientCAFile      string
	UpstreamTLS          bool
	UpstreamTLSCAFile    string
	UpstreamTLSServer    string
	UpstreamTLSCertFile  string
	UpstreamTLSKeyFile   string
	MaxClients           int
	FailoverHold         time.Duration
	DrainTimeout         time.Duration
	DialTimeout          time.Duration
	ReadTimeout          time.Duration
	PollInterval         time.Duration
	ReattachReplicas     bool
	LogLevel             string
	LogFormat            string
	DataPath             string
	Version              bool
}

// endpointList is a repeatable NAME=LISTEN_ADDR flag.
type endpointList struct {
	eps *[]tunnel.Endpoint
}

func (l endpointList) String() string {
	if l.eps == nil {
		return ""
	}
	parts := make([]string, len(*l.eps))
	for i, e := range *l.eps {
		parts[i] = e.Name + "=" + e.Listen
	}
	return strings.Join(parts, ",")
}

func (l endpointList) Set(v string) error {
	for _, item := range splitList(v) {
		name, addr, ok := strings.Cut(item, "=")
		if !ok || name == "" || addr == "" {
			return fmt.Errorf("%q is not NAME=LISTEN_ADDR (e.g. mymaster=:6379)", item)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("listen address %q of %s is not host:port (e.g. :6379)", addr, name)
		}
		for _, e := range *l.eps {
			if e.Name == name {
				return fmt.Errorf("master name %q given twice", name)
			}
		}
		*l.eps = append(*l.eps, tunnel.Endpoint{Name: name, Listen: addr})
	}
	return nil
}

// stringList is a comma-separated list flag (repeating it appends).
type stringList struct{ vals *[]string }

func (l stringList) String() string {
	if l.vals == nil {
		return ""
	}
	return strings.Join(*l.vals, ",")
}

func (l stringList) Set(v string) error {
	for _, item := range splitList(v) {
		if _, _, err := net.SplitHostPort(item); err != nil {
			return fmt.Errorf("%q is not host:port (e.g. sentinel-0.sentinel:26379)", item)
		}
		*l.vals = append(*l.vals, item)
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func newFlagSet(o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("redis-ha-tunnel", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Var(stringList{&o.Sentinels}, "sentinels", "comma-separated Sentinel host:port list (required; hostnames re-resolved on each dial)")
	fs.Var(endpointList{&o.Masters}, "master", "NAME=LISTEN_ADDR read-write listener per Sentinel master name (repeatable, required)")
	fs.Var(endpointList{&o.Replicas}, "replicas", "NAME=LISTEN_ADDR read-only listener over healthy replicas (repeatable)")
	fs.StringVar(&o.MetricsListen, "metrics-listen", ":8080", "address serving /metrics, /healthz, /readyz")
	fs.StringVar(&o.SentinelUsername, "sentinel-username", "", "username for Sentinel control connections")
	fs.StringVar(&o.SentinelPasswordFile, "sentinel-password-file", "", "file holding the Sentinel password (else env "+envPrefix+"SENTINEL_PASSWORD)")
	fs.StringVar(&o.RedisUsername, "redis-username", "", "username for the tunnel's own Redis control connections (ROLE, INFO)")
	fs.StringVar(&o.RedisPasswordFile, "redis-password-file", "", "file holding the Redis password (else env "+envPrefix+"REDIS_PASSWORD)")
	fs.StringVar(&o.TLSCertFile, "tls-cert-file", "", "certificate for TLS towards clients")
	fs.StringVar(&o.TLSKeyFile, "tls-key-file", "", "key for TLS towards clients")
	fs.StringVar(&o.TLSClientCAFile, "tls-client-ca-file", "", "CA bundle to require and verify client certificates")
	fs.BoolVar(&o.UpstreamTLS, "upstream-tls", false, "use TLS to Sentinel and Redis")
	fs.StringVar(&o.UpstreamTLSCAFile, "upstream-tls-ca-file", "", "CA bundle to verify Sentinel/Redis certificates")
	fs.StringVar(&o.UpstreamTLSServer, "upstream-tls-server-name", "", "server name to verify instead of the dialed host")
	fs.StringVar(&o.UpstreamTLSCertFile, "upstream-tls-cert-file", "", "client certificate towards Sentinel/Redis")
	fs.StringVar(&o.UpstreamTLSKeyFile, "upstream-tls-key-file", "", "client key towards Sentinel/Redis")
	fs.IntVar(&o.MaxClients, "max-clients", 10000, "maximum concurrent client connections")
	fs.DurationVar(&o.FailoverHold, "failover-hold", 10*time.Second, "how long new connections wait for a master during a failover")
	fs.DurationVar(&o.DrainTimeout, "drain-timeout", 15*time.Second, "on SIGTERM, how long open sessions may finish")
	fs.DurationVar(&o.DialTimeout, "dial-timeout", 2*time.Second, "timeout of every dial")
	fs.DurationVar(&o.ReadTimeout, "read-timeout", 2*time.Second, "timeout of control queries to Sentinel and Redis")
	fs.DurationVar(&o.PollInterval, "poll-interval", time.Second, "Sentinel poll backstop period")
	fs.BoolVar(&o.ReattachReplicas, "reattach-replicas", true, "after a promotion, send REPLICAOF <new master> to a remaining replica (as many as min-replicas-to-write needs) and to the old master if it still says master, ahead of Sentinel: the new master's writes reach a second node ~1 s sooner, a guarded master accepts writes sooner, and a demoted node cannot be promoted again without them (false: leave it to Sentinel)")
	fs.StringVar(&o.LogLevel, "log-level", "info", "debug|info|warn|error")
	fs.StringVar(&o.LogFormat, "log-format", "text", "text|json")
	fs.StringVar(&o.DataPath, "data-path", tunnel.DataPathReactor, "how plain TCP sessions are accepted, dialed and moved: reactor (epoll loops, Linux) or goroutines (an accept goroutine, two per session); TLS sessions always use goroutines")
	fs.BoolVar(&o.Version, "version", false, "print the version and exit")
	return fs
}

// envName is the environment variable read for a flag.
func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args, then fills every flag not given on the command line from its
// environment variable, reads password files and checks the result. Errors are one line
// naming the flag.
func parseFlags(args []string, getenv func(string) string, readFile func(string) ([]byte, error)) (*options, error) {
	o := &options{}
	fs := newFlagSet(o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, flagError(err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: every setting is a --flag", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		env := envName(f.Name)
		if v := getenv(env); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("flag --%s: invalid value %q from %s: %v", f.Name, v, env, explainParse(err))
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if o.Version {
		return o, nil
	}
	var err error
	if o.SentinelPassword, err = password(o.SentinelPasswordFile, "sentinel-password-file", envPrefix+"SENTINEL_PASSWORD", getenv, readFile); err != nil {
		return nil, err
	}
	if o.RedisPassword, err = password(o.RedisPasswordFile, "redis-password-file", envPrefix+"REDIS_PASSWORD", getenv, readFile); err != nil {
		return nil, err
	}
	return o, o.validate()
}

// flagError turns the flag package's message into one line naming the flag with "--".
func flagError(err error) error {
	msg := err.Error()
	if i := strings.Index(msg, "flag -"); i >= 0 && !strings.Contains(msg, "flag --") {
		msg = msg[:i] + "flag --" + msg[i+len("flag -"):]
	}
	msg = strings.ReplaceAll(msg, "flag provided but not defined: -", "unknown flag --")
	return errors.New(strings.ReplaceAll(explainParse(errors.New(msg)).Error(), "\n", " "))
}

// explainParse replaces the flag package's bare "parse error" with what is expected.
func explainParse(err error) error {
	msg := err.Error()
	if strings.HasSuffix(msg, "parse error") {
		msg = strings.TrimSuffix(msg, "parse error") + "cannot parse: want a number (10000), a duration (2s, 500ms) or true/false"
	}
	return errors.New(msg)
}

func password(file, flagName, env string, getenv func(string) string, readFile func(string) ([]byte, error)) (string, error) {
	if file == "" {
		return getenv(env), nil
	}
	b, err := readFile(file)
	if err != nil {
		return "", fmt.Errorf("flag --%s: cannot read %s: %v", flagName, file, err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

func (o *options) validate() error {
	switch {
	case len(o.Sentinels) == 0:
		return errors.New("flag --sentinels is required: comma-separated host:port list (env " + envName("sentinels") + ")")
	case len(o.Masters) == 0:
		return errors.New("flag --master is required: NAME=LISTEN_ADDR, e.g. mymaster=:6379 (env " + envName("master") + ")")
	case o.MaxClients <= 0:
		return fmt.Errorf("flag --max-clients must be > 0, got %d", o.MaxClients)
	}
	for _, r := range o.Replicas {
		found := false
		for _, m := range o.Masters {
			found = found || m.Name == r.Name
		}
		if !found {
			return fmt.Errorf("flag --replicas: %s has no --master %s=LISTEN_ADDR", r.Name, r.Name)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"failover-hold", o.FailoverHold}, {"drain-timeout", o.DrainTimeout}, {"dial-timeout", o.DialTimeout},
		{"read-timeout", o.ReadTimeout}, {"poll-interval", o.PollInterval}} {
		if d.v <= 0 {
			return fmt.Errorf("flag --%s must be a positive duration like 2s, got %s", d.name, d.v)
		}
	}
	if _, err := parseLevel(o.LogLevel); err != nil {
		return err
	}
	if o.DataPath != tunnel.DataPathReactor && o.DataPath != tunnel.DataPathGoroutines {
		return fmt.Errorf("flag --data-path must be %s or %s, got %q", tunnel.DataPathReactor, tunnel.DataPathGoroutines, o.DataPath)
	}
	if o.LogFormat != "text" && o.LogFormat != "json" {
		return fmt.Errorf("flag --log-format must be text or json, got %q", o.LogFormat)
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return errors.New("flag --tls-cert-file and --tls-key-file must be given together")
	}
	if o.TLSClientCAFile != "" && o.TLSCertFile == "" {
		return errors.New("flag --tls-client-ca-file needs --tls-cert-file and --tls-key-file")
	}
	if (o.UpstreamTLSCertFile == "") != (o.UpstreamTLSKeyFile == "") {
		return errors.New("flag --upstream-tls-cert-file and --upstream-tls-key-file must be given together")
	}
	if !o.UpstreamTLS {
		for name, v := range map[string]string{"upstream-tls-ca-file": o.UpstreamTLSCAFile, "upstream-tls-server-name": o.UpstreamTLSServer,
			"upstream-tls-cert-file": o.UpstreamTLSCertFile} {
			if v != "" {
				return fmt.Errorf("flag --%s needs --upstream-tls", name)
			}
		}
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("flag --log-level must be debug, info, warn or error, got %q", s)
}

// tunnelConfig turns options into the library config, loading TLS material.
func (o *options) tunnelConfig(log *slog.Logger) (tunnel.Config, error) {
	cfg := tunnel.Config{
		Sentinels:    o.Sentinels,
		Masters:      o.Masters,
		Replicas:     o.Replicas,
		SentinelAuth: tunnel.Auth{Username: o.SentinelUsername, Password: o.SentinelPassword},
		RedisAuth:    tunnel.Auth{Username: o.RedisUsername, Password: o.RedisPassword},
		MaxClients:   o.MaxClients,
		FailoverHold: o.FailoverHold,
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.ReadTimeout,
		PollInterval: o.PollInterval,

		DataPath: o.DataPath,

		LeaveReplicasToSentinel: !o.ReattachReplicas,
		Logger:                  log,
	}
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return cfg, fmt.Errorf("flag --tls-cert-file/--tls-key-file: %v", err)
		}
		cfg.ClientTLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if o.TLSClientCAFile != "" {
			pool, err := loadPool(o.TLSClientCAFile, "tls-client-ca-file")
			if err != nil {
				return cfg, err
			}
			cfg.ClientTLS.ClientCAs = pool
			cfg.ClientTLS.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	if o.UpstreamTLS {
		cfg.UpstreamTLS = &tls.Config{ServerName: o.UpstreamTLSServer, MinVersion: tls.VersionTLS12}
		if o.UpstreamTLSCAFile != "" {
			pool, err := loadPool(o.UpstreamTLSCAFile, "upstream-tls-ca-file")
			if err != nil {
				return cfg, err
			}
			cfg.UpstreamTLS.RootCAs = pool
		}
		if o.UpstreamTLSCertFile != "" {
			cert, err := tls.LoadX509KeyPair(o.UpstreamTLSCertFile, o.UpstreamTLSKeyFile)
			if err != nil {
				return cfg, fmt.Errorf("flag --upstream-tls-cert-file/--upstream-tls-key-file: %v", err)
			}
			cfg.UpstreamTLS.Certificates = []tls.Certificate{cert}
		}
	}
	return cfg, nil
}

func loadPool(file, flagName string) (*x509.CertPool, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("flag --%s: %v", flagName, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("flag --%s: %s holds no PEM certificate", flagName, file)
	}
	return pool, nil
}
