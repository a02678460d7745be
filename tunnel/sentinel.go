package tunnel

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/gomodule/redigo/redis"
)

// controlDialer opens the tunnel's own connections: control connections to Sentinels and
// Redis (redigo, with auth, TLS and timeouts) and raw data-path connections to Redis.
// Addresses may be hostnames; they are resolved on every dial, so a Kubernetes pod that
// comes back with a new IP is found again.
type controlDialer struct {
	dialTimeout  time.Duration
	readTimeout  time.Duration
	sentinelAuth Auth
	redisAuth    Auth
	upstreamTLS  *tls.Config
	keepAlive    time.Duration
}

func (d *controlDialer) options(auth Auth, readTimeout time.Duration) []redis.DialOption {
	opts := []redis.DialOption{
		redis.DialConnectTimeout(d.dialTimeout),
		redis.DialReadTimeout(readTimeout),
		redis.DialWriteTimeout(d.readTimeout),
		redis.DialKeepAlive(d.keepAlive),
	}
	if auth.Password != "" {
		opts = append(opts, redis.DialPassword(auth.Password))
		if auth.Username != "" {
			opts = append(opts, redis.DialUsername(auth.Username))
		}
	}
	if d.upstreamTLS != nil {
		opts = append(opts, redis.DialUseTLS(true), redis.DialTLSConfig(d.upstreamTLS))
	}
	return opts
}

// sentinel dials a Sentinel control connection. readTimeout 0 means d.readTimeout.
func (d *controlDialer) sentinel(ctx context.Context, addr string, readTimeout time.Duration) (redis.Conn, error) {
	if readTimeout == 0 {
		readTimeout = d.readTimeout
	}
	c, err := redis.DialContext(ctx, "tcp", addr, d.options(d.sentinelAuth, readTimeout)...)
	if err != nil {
		return nil, fmt.Errorf("dial sentinel %s: %w", addr, err)
	}
	return c, nil
}

// redis dials a Redis control connection (ROLE, INFO).
func (d *controlDialer) redis(ctx context.Context, addr string, readTimeout time.Duration) (redis.Conn, error) {
	if readTimeout == 0 {
		readTimeout = d.readTimeout
	}
	c, err := redis.DialContext(ctx, "tcp", addr, d.options(d.redisAuth, readTimeout)...)
	if err != nil {
		return nil, fmt.Errorf("dial redis %s: %w", addr, err)
	}
	return c, nil
}

// upstream dials the data-path connection to Redis: TCP with keepalive, TLS if configured.
// The plain result is a *net.TCPConn, so the session can wait on its raw fd without a buffer.
func (d *controlDialer) upstream(ctx context.Context, addr string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.dialTimeout, KeepAliveConfig: tcpKeepAlive}
	c, err := nd.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial upstream %s: %w", addr, err)
	}
	if d.upstreamTLS == nil {
		return c, nil
	}
	cfg := d.upstreamTLS.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName = hostOf(addr)
	}
	tc := tls.Client(c, cfg)
	hctx, cancel := context.WithTimeout(ctx, d.dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake with upstream %s: %w", addr, err)
	}
	return tc, nil
}

// queryRole asks addr for ROLE on a fresh control connection.
func (d *controlDialer) queryRole(ctx context.Context, addr string) (roleInfo, error) {
	c, err := d.redis(ctx, addr, 0)
	if err != nil {
		return roleInfo{}, err
	}
	defer c.Close()
	reply, err := c.Do("ROLE")
	if err != nil {
		return roleInfo{}, fmt.Errorf("ROLE on %s: %w", addr, err)
	}
	ri, err := parseRole(reply)
	if err != nil {
		return ri, fmt.Errorf("%s: %w", addr, err)
	}
	return ri, nil
}

// queryReplication asks addr for INFO replication on a fresh connection with timeout.
func (d *controlDialer) queryReplication(ctx context.Context, addr string, timeout time.Duration) (replicationInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := d.redis(ctx, addr, timeout)
	if err != nil {
		return replicationInfo{}, err
	}
	defer c.Close()
	text, err := redis.String(c.Do("INFO", "replication"))
	if err != nil {
		return replicationInfo{}, fmt.Errorf("INFO replication on %s: %w", addr, err)
	}
	ri, err := parseReplicationInfo(text)
	if err != nil {
		return ri, fmt.Errorf("%s: %w", addr, err)
	}
	return ri, nil
}

// querySentinelMaster asks a Sentinel for SENTINEL MASTER name.
func (d *controlDialer) querySentinelMaster(ctx context.Context, sentinel, name string) (sentinelMasterView, error) {
	c, err := d.sentinel(ctx, sentinel, 0)
	if err != nil {
		return sentinelMasterView{}, err
	}
	defer c.Close()
	fields, err := redis.StringMap(c.Do("SENTINEL", "MASTER", name))
	if err != nil {
		return sentinelMasterView{}, fmt.Errorf("SENTINEL MASTER %s on %s: %w", name, sentinel, err)
	}
	v, err := parseSentinelMaster(fields)
	if err != nil {
		return v, fmt.Errorf("sentinel %s: %w", sentinel, err)
	}
	return v, nil
}

// querySentinelReplicas asks a Sentinel for the replicas it knows for name.
func (d *controlDialer) querySentinelReplicas(ctx context.Context, sentinel, name string) ([]sentinelReplicaView, error) {
	c, err := d.sentinel(ctx, sentinel, 0)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	entries, err := redis.Values(c.Do("SENTINEL", "REPLICAS", name))
	if err != nil {
		return nil, fmt.Errorf("SENTINEL REPLICAS %s on %s: %w", name, sentinel, err)
	}
	views := make([]sentinelReplicaView, 0, len(entries))
	for _, e := range entries {
		fields, err := redis.StringMap(e, nil)
		if err != nil {
			return nil, fmt.Errorf("SENTINEL REPLICAS %s on %s: %w", name, sentinel, err)
		}
		r, err := parseSentinelReplica(fields)
		if err != nil {
			return nil, fmt.Errorf("sentinel %s: %w", sentinel, err)
		}
		views = append(views, r)
	}
	return views, nil
}

// sentinelSubscriber keeps one Pub/Sub connection to one Sentinel, PSUBSCRIBEd to every
// event, and hands parsed events to deliver. It pings every pingInterval and reconnects
// (with backoff) when nothing arrives for pingInterval+readTimeout, so a restarted or hung
// Sentinel never blocks anything else.
type sentinelSubscriber struct {
	addr         string
	dialer       *controlDialer
	pingInterval time.Duration
	log          *slog.Logger
	deliver      func(src string, ev sentinelEvent)
	connected    func(src string, up bool)
}

func (s *sentinelSubscriber) run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		s.connected(s.addr, false)
		if time.Since(start) > 10*time.Second {
			backoff = 50 * time.Millisecond
		}
		s.log.Warn("sentinel subscription lost, reconnecting", "sentinel", s.addr, "err", err, "backoff", backoff)
		sleepCtx(ctx, backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *sentinelSubscriber) session(ctx context.Context) error {
	c, err := s.dialer.sentinel(ctx, s.addr, s.pingInterval+s.dialer.readTimeout)
	if err != nil {
		return err
	}
	psc := redis.PubSubConn{Conn: c}
	defer psc.Close()
	if err := psc.PSubscribe("*"); err != nil {
		return fmt.Errorf("PSUBSCRIBE on sentinel %s: %w", s.addr, err)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// Closing the connection is the only way to interrupt Receive on shutdown.
		<-sctx.Done()
		psc.Close()
	}()
	pingErr := make(chan error, 1)
	go func() {
		t := time.NewTicker(s.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if err := psc.Ping(""); err != nil {
					pingErr <- err
					return
				}
			}
		}
	}()
	for {
		msg := psc.ReceiveWithTimeout(s.pingInterval + s.dialer.readTimeout)
		switch m := msg.(type) {
		case redis.Message:
			ev, err := parseSentinelEvent(m.Channel, string(m.Data))
			if err != nil {
				s.log.Debug("ignoring sentinel event", "sentinel", s.addr, "channel", m.Channel, "err", err)
				continue
			}
			s.deliver(s.addr, ev)
		case redis.Subscription:
			if m.Kind == "psubscribe" {
				s.log.Info("subscribed to sentinel events", "sentinel", s.addr)
				s.connected(s.addr, true)
			}
		case redis.Pong:
		case error:
			select {
			case perr := <-pingErr:
				return errors.Join(m, perr)
			default:
			}
			return fmt.Errorf("sentinel %s: %w", s.addr, m)
		}
	}
}
