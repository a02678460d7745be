package tunnel

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gomodule/redigo/redis"

	"github.com/redis-ha/redis-ha/internal/redisproc"
	"github.com/redis-ha/redis-ha/internal/redisproc/redisproctest"
)

// promotionClock polls ROLE of every server but old every millisecond and records when
// the first one says master: the moment of promotion, seen from outside.
func promotionClock(t *testing.T, c *redisproc.Cluster, old *redisproc.Process) (wait func() (time.Time, *redisproc.Process)) {
	t.Helper()
	type hit struct {
		at time.Time
		p  *redisproc.Process
	}
	found := make(chan hit, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	var once sync.Once
	for _, p := range c.Servers() {
		if p == old {
			continue
		}
		go func() {
			// Sentinel promotes with MULTI; SLAVEOF NO ONE; CLIENT KILL TYPE normal; EXEC,
			// so our connection dies at the promotion: reconnect at once.
			for ctx.Err() == nil {
				conn, err := p.Client(ctx)
				if err != nil {
					time.Sleep(time.Millisecond)
					continue
				}
				for ctx.Err() == nil {
					reply, err := conn.Do("ROLE")
					if err != nil {
						break
					}
					if ri, err := parseRole(reply); err == nil && ri.Role == "master" {
						at := time.Now()
						once.Do(func() { found <- hit{at, p} })
						conn.Close()
						return
					}
					time.Sleep(time.Millisecond)
				}
				conn.Close()
			}
		}()
	}
	return func() (time.Time, *redisproc.Process) {
		defer cancel()
		select {
		case h := <-found:
			return h.at, h.p
		case <-ctx.Done():
			t.Fatal("no replica was promoted within 30s")
			return time.Time{}, nil
		}
	}
}

func TestIntegrationKillMasterFollowsFailover(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	tun := startTunnel(t, c, nil)
	ctx := context.Background()
	name := c.MasterName()
	w := startWriter(t, tun.MasterAddr(name).String(), "kill")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })

	old, err := c.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Sample the route all the time: it must never go back to the killed master.
	var routedToOldAfterCut atomic.Bool
	stopSampling := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Add(1)
	go func() {
		defer sampler.Done()
		left := false
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(time.Millisecond):
			}
			m := tun.Status()[name].Master
			if m != old.Addr() {
				left = true
			} else if left {
				routedToOldAfterCut.Store(true)
			}
		}
	}()

	waitPromotion := promotionClock(t, c, old)
	killedAt := time.Now()
	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	promotedAt, newMaster := waitPromotion()
	waitFor(t, 10*time.Second, "tunnel on the promoted master", func() bool { return tun.Status()[name].Master == newMaster.Addr() })
	// The watcher hands setMaster its previous target as from: the old master's series goes.
	waitFor(t, 5*time.Second, "master gauge on the promoted master only", func() bool {
		return slices.Equal(masterSeries(t, tun.metrics), []string{name + "=" + newMaster.Addr()})
	})
	waitFor(t, 5*time.Second, "writes after the failover", func() bool {
		return !firstAckAfter(w.snapshot(), promotedAt).IsZero()
	})
	firstWrite := firstAckAfter(w.snapshot(), promotedAt)
	sincePromotion := firstWrite.Sub(promotedAt)
	t.Logf("RESULT kill -9: promotion %s after the kill, first acked write %s after the promotion (%s after the kill)",
		promotedAt.Sub(killedAt).Round(time.Millisecond), sincePromotion.Round(10*time.Microsecond), firstWrite.Sub(killedAt).Round(time.Millisecond))
	// Target 100 ms; the budget allows for -race on a busy 2-core machine.
	if sincePromotion > 500*time.Millisecond {
		t.Errorf("first write %s after promotion, want <= 500ms", sincePromotion)
	}

	// The old master comes back (empty: no persistence) claiming master until Sentinel
	// converts it. The tunnel must not send it a single write.
	if err := old.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "restarted old master to become a replica", func() bool {
		role, err := redisproc.Role(ctx, old)
		return err == nil && role == "slave"
	})
	time.Sleep(300 * time.Millisecond)
	w.halt()
	close(stopSampling)
	sampler.Wait()
	if routedToOldAfterCut.Load() {
		t.Error("the tunnel routed to the killed master again after leaving it")
	}
	acks := w.snapshot()
	var afterKill []ack
	for _, a := range acks {
		if a.at.After(killedAt) {
			afterKill = append(afterKill, a)
		}
	}
	if missing := missingKeys(t, newMaster, afterKill); len(missing) > 0 {
		t.Errorf("%d of %d writes acked after the kill are missing on the new master (e.g. %v): some went to the restarted old master",
			len(missing), len(afterKill), missing[:min(5, len(missing))])
	}
	t.Logf("RESULT kill -9: %d writes acked after the kill, all on the new master; restarted old master is a replica", len(afterKill))
}

func TestIntegrationOneSentinelHungStillFailsOver(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	// Hang one Sentinel before the tunnel starts: its dial succeeds, nothing answers.
	if err := c.Sentinels()[0].Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Sentinels()[0].Resume() })
	tun := startTunnel(t, c, nil)
	ctx := context.Background()
	name := c.MasterName()
	w := startWriter(t, tun.MasterAddr(name).String(), "hung")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })

	// Fail over through a live Sentinel.
	old, _ := c.Master(ctx)
	if _, err := c.Sentinels()[1].Do(ctx, "SENTINEL", "FAILOVER", name); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "tunnel to leave the old master", func() bool {
		m := tun.Status()[name].Master
		return m != "" && m != old.Addr()
	})
	newMaster := c.ServerByAddr(tun.Status()[name].Master)
	before := w.count()
	waitFor(t, 5*time.Second, "writes after failover", func() bool { return w.count() > before+100 })
	w.halt()
	missing := missingKeys(t, newMaster, w.snapshot())
	if len(missing) > 0 {
		t.Errorf("%d acked keys missing on the new master", len(missing))
	}
	if !tun.Ready() {
		t.Error("not ready with 2 of 3 Sentinels answering")
	}
	t.Logf("RESULT one Sentinel hung: %d acked writes, %d lost, switched %s -> %s", w.count(), len(missing), old.Name(), newMaster.Name())
}

func TestIntegrationAllSentinelsDownKeepsVerifiedMaster(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	tun := startTunnel(t, c, nil)
	name := c.MasterName()
	srv := httptest.NewServer(tun.Handler())
	defer srv.Close()
	readyz := func() int {
		resp, err := http.Get(srv.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("readyz = %d before, want 200", code)
	}
	w := startWriter(t, tun.MasterAddr(name).String(), "nosentinel")
	for _, s := range c.Sentinels() {
		if err := s.Kill(); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 5*time.Second, "readyz to fail", func() bool { return readyz() == http.StatusServiceUnavailable })
	before := w.count()
	// New connections still work too.
	conn, err := redis.Dial("tcp", tun.MasterAddr(name).String(), redis.DialReadTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Do("SET", "new-conn-without-sentinels", "1"); err != nil {
		t.Fatalf("SET on a new connection with all Sentinels down: %v", err)
	}
	conn.Close()
	time.Sleep(time.Second)
	if after := w.count(); after < before+100 {
		t.Fatalf("only %d writes in 1s with all Sentinels down", after-before)
	}
	for _, s := range c.Sentinels() {
		if err := s.Restart(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 10*time.Second, "readyz back", func() bool { return readyz() == http.StatusOK })
	w.halt()
	t.Logf("RESULT all Sentinels down: writes kept flowing (%d acked in total), readyz 503 then 200", w.count())
}

// TestIntegrationTunnelRestartWithAuth restarts the tunnel under a running writer, on a
// group with requirepass on Redis and Sentinel: the tunnel authenticates its own control
// connections, the client authenticates itself through the forwarded bytes.
func TestIntegrationTunnelRestartWithAuth(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{
		Replicas: 1, Sentinels: 3, Password: "redis-pw", SentinelPassword: "sentinel-pw",
	})
	name := c.MasterName()
	withAuth := func(cfg *Config) {
		cfg.RedisAuth = Auth{Password: "redis-pw"}
		cfg.SentinelAuth = Auth{Password: "sentinel-pw"}
	}
	tun := startTunnel(t, c, withAuth)
	addr := tun.MasterAddr(name).String()
	w := startWriter(t, addr, "restart", redis.DialPassword("redis-pw"))
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })
	if err := tun.Close(); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	startTunnel(t, c, func(cfg *Config) {
		withAuth(cfg)
		cfg.Masters[0].Listen = addr
	})
	waitFor(t, 5*time.Second, "writes through the new tunnel", func() bool { return !firstAckAfter(w.snapshot(), stoppedAt).IsZero() })
	gap := firstAckAfter(w.snapshot(), stoppedAt).Sub(stoppedAt)
	w.halt()
	m, err := c.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	missing := missingKeys(t, m, w.snapshot())
	if len(missing) > 0 {
		t.Errorf("%d acked keys missing", len(missing))
	}
	// Without the client's own AUTH the forwarded bytes meet requirepass.
	conn, err := redis.Dial("tcp", addr, redis.DialReadTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Do("GET", "x"); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("unauthenticated client got %v, want NOAUTH from Redis", err)
	}
	t.Logf("RESULT tunnel restart: writes resumed %s after the old tunnel closed, %d acked, %d lost", gap.Round(time.Millisecond), w.count(), len(missing))
}

func TestIntegrationTransparency(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	name := c.MasterName()
	tun := startTunnel(t, c, func(cfg *Config) { cfg.MaxClients = 4 })
	addr := tun.MasterAddr(name).String()
	dial := func() redis.Conn {
		conn, err := redis.Dial("tcp", addr, redis.DialReadTimeout(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return conn
	}

	t.Run("pubsub", func(t *testing.T) {
		sub := redis.PubSubConn{Conn: dial()}
		defer sub.Close()
		if err := sub.Subscribe("news"); err != nil {
			t.Fatal(err)
		}
		if _, ok := sub.Receive().(redis.Subscription); !ok {
			t.Fatal("no subscription confirmation")
		}
		pub := dial()
		defer pub.Close()
		if n, err := redis.Int(pub.Do("PUBLISH", "news", "hello")); err != nil || n != 1 {
			t.Fatalf("PUBLISH = %d, %v; want 1 receiver", n, err)
		}
		msg, ok := sub.Receive().(redis.Message)
		if !ok || string(msg.Data) != "hello" {
			t.Fatalf("received %#v", msg)
		}
	})
	t.Run("multi-exec", func(t *testing.T) {
		conn := dial()
		defer conn.Close()
		conn.Send("MULTI")
		conn.Send("SET", "tx", "1")
		conn.Send("INCR", "tx")
		reply, err := redis.Values(conn.Do("EXEC"))
		if err != nil || len(reply) != 2 {
			t.Fatalf("EXEC = %v, %v", reply, err)
		}
		if n, _ := redis.Int(reply[1], nil); n != 2 {
			t.Errorf("INCR in MULTI = %d, want 2", n)
		}
	})
	t.Run("blocking-and-resp3", func(t *testing.T) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		br := bufio.NewReader(raw)
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		// HELLO 3 switches to RESP3: the reply is a map ('%'), passed through untouched.
		io.WriteString(raw, "HELLO 3\r\n")
		line, err := br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "%") {
			t.Fatalf("HELLO 3 reply %q, %v; want a RESP3 map", line, err)
		}
		for {
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			if br.Buffered() == 0 {
				break
			}
		}
		io.WriteString(raw, "BLPOP queue 5\r\n")
		pusher := dial()
		defer pusher.Close()
		time.Sleep(50 * time.Millisecond)
		if _, err := pusher.Do("RPUSH", "queue", "job"); err != nil {
			t.Fatal(err)
		}
		line, err = br.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "*2") {
			t.Fatalf("BLPOP reply %q, %v", line, err)
		}
	})
	t.Run("half-close", func(t *testing.T) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(raw, "SET hc 1\r\nGET hc\r\n")
		raw.(*net.TCPConn).CloseWrite()
		all, err := io.ReadAll(raw)
		if err != nil || string(all) != "+OK\r\n$1\r\n1\r\n" {
			t.Fatalf("after half-close read %q, %v", all, err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		raw.SetDeadline(time.Now().Add(5 * time.Second))
		raw.Write([]byte("\xff\xfe junk\r\n*abc\r\n\x00\xff"))
		// Redis answers the errors and closes; the tunnel passes both on untouched.
		got, err := io.ReadAll(raw)
		raw.Close()
		if err != nil || !strings.HasPrefix(string(got), "-ERR unknown command") || !strings.HasSuffix(string(got), "-ERR Protocol error: invalid multibulk length\r\n") {
			t.Fatalf("garbage answered %q, %v", got, err)
		}
		conn := dial()
		defer conn.Close()
		if _, err := conn.Do("PING"); err != nil {
			t.Fatalf("tunnel unusable after garbage: %v", err)
		}
	})
	t.Run("max-clients", func(t *testing.T) {
		// Sessions of the subtests above end asynchronously; start from zero.
		waitFor(t, 5*time.Second, "earlier sessions to end", func() bool { return tun.limiter.current.Load() == 0 })
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := 0; i < 4; i++ {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(raw, "PING\r\n")
			raw.SetReadDeadline(time.Now().Add(5 * time.Second))
			if line, err := bufio.NewReader(raw).ReadString('\n'); err != nil || line != "+PONG\r\n" {
				t.Fatalf("client %d: %q, %v", i, line, err)
			}
			conns = append(conns, raw)
		}
		extra, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		extra.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, _ := io.ReadAll(extra)
		extra.Close()
		if string(got) != maxClientsReply {
			t.Fatalf("client beyond --max-clients got %q, want %q", got, maxClientsReply)
		}
		conns[0].Close()
		conns = conns[1:]
		waitFor(t, 5*time.Second, "a slot to free up", func() bool {
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				return false
			}
			defer raw.Close()
			io.WriteString(raw, "PING\r\n")
			raw.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, _ := bufio.NewReader(raw).ReadString('\n')
			return line == "+PONG\r\n"
		})
	})
}

// TestIntegrationGarbageSentinel adds a fake Sentinel that answers every connection with
// random bytes: the tunnel must ignore it and keep routing with the real ones.
func TestIntegrationGarbageSentinel(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	garbage := serveLoopback(t, func(conn net.Conn) {
		conn.Write([]byte("*3\r\n$7\r\nmessage\r\n:x\r\n\x00\xff\xfe garbage\r\n$-9\r\n%%%%\r\n"))
		io.Copy(io.Discard, conn)
	})
	tun := startTunnel(t, c, func(cfg *Config) { cfg.Sentinels = append(cfg.Sentinels, garbage) })
	conn, err := redis.Dial("tcp", tun.MasterAddr(c.MasterName()).String(), redis.DialReadTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Do("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // a few polls and reconnects against the fake
	if _, err := conn.Do("GET", "k"); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationHostnamesAndReplicaEndpoint runs the group the Kubernetes way, with
// announce-hostnames (events and replies carry "localhost", resolved on each dial), and
// checks the read-only endpoint lands on replicas.
func TestIntegrationHostnamesAndReplicaEndpoint(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{
		Replicas: 2, Sentinels: 3, Hostname: "localhost",
		DownAfter: time.Second, FailoverTimeout: 4 * time.Second,
	})
	name := c.MasterName()
	tun := startTunnel(t, c, func(cfg *Config) {
		cfg.Replicas = []Endpoint{{Name: name, Listen: "127.0.0.1:0"}}
	})
	if m := tun.Status()[name].Master; !strings.HasPrefix(m, "localhost:") {
		t.Fatalf("routing to %q, want the announced hostname", m)
	}
	w := startWriter(t, tun.MasterAddr(name).String(), "host")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })

	// Read-only endpoint: every session lands on a replica (ROLE through it says slave).
	waitFor(t, 5*time.Second, "replica list", func() bool {
		conn, err := redis.Dial("tcp", tun.ReplicaAddr(name).String(), redis.DialReadTimeout(2*time.Second))
		if err != nil {
			return false
		}
		defer conn.Close()
		reply, err := conn.Do("ROLE")
		if err != nil {
			return false
		}
		ri, err := parseRole(reply)
		return err == nil && ri.Role == "slave"
	})
	for i := 0; i < 6; i++ {
		conn, err := redis.Dial("tcp", tun.ReplicaAddr(name).String(), redis.DialReadTimeout(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		reply, err := conn.Do("ROLE")
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		ri, err := parseRole(reply)
		if err != nil || ri.Role != "slave" {
			t.Fatalf("read-only endpoint reached a %q (%v)", ri.Role, err)
		}
	}

	ctx := context.Background()
	old, err := c.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	newMaster, err := c.Failover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "tunnel on the new master", func() bool {
		return tun.Status()[name].Master == "localhost:"+strconv.Itoa(newMaster.Port())
	})
	before := w.count()
	waitFor(t, 5*time.Second, "writes after failover", func() bool { return w.count() > before+100 })
	w.halt()
	missing := missingKeys(t, newMaster, w.snapshot())
	if len(missing) > 0 {
		t.Errorf("%d acked keys missing after a hostname failover", len(missing))
	}
	t.Logf("RESULT hostnames: %s -> %s via announced hostnames, %d acked writes, %d lost", old.Name(), newMaster.Name(), w.count(), len(missing))
}

// TestIntegrationAbortedFailoverUnfencesWithoutLoss makes a real failover abort: the only
// replica is frozen (SIGSTOP) right before SENTINEL FAILOVER, so SLAVEOF NO ONE never
// completes and Sentinel publishes -failover-abort-slave-timeout after failover-timeout.
// The tunnel must fence, then resume the parked session on the old master: the writer's
// connection survives, its parked write completes, and no acked write is lost.
func TestIntegrationAbortedFailoverUnfencesWithoutLoss(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := redisproctest.StartCluster(t, redisproc.ClusterOptions{
		Replicas: 1, Sentinels: 3, DownAfter: 5 * time.Second, FailoverTimeout: 2 * time.Second,
	})
	name := c.MasterName()
	tun := startTunnel(t, c, nil)
	ctx := context.Background()
	master, err := c.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := startWriter(t, tun.MasterAddr(name).String(), "abort")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })

	replica := c.Servers()[1]
	if err := replica.Pause(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sentinels()[0].Do(ctx, "SENTINEL", "FAILOVER", name); err != nil {
		replica.Resume()
		t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	waitFor(t, 2*time.Second, "the tunnel to fence", func() bool { return tun.Status()[name].Fenced })
	fencedAt := time.Now()
	frozen := w.count()
	// A client arriving during the fence is held, not refused, and served once it lifts.
	heldResult := make(chan error, 1)
	var heldDoneAt atomic.Int64
	go func() {
		conn, err := redis.Dial("tcp", tun.MasterAddr(name).String(), redis.DialReadTimeout(15*time.Second))
		if err == nil {
			_, err = conn.Do("SET", "held-during-fence", "1")
			conn.Close()
		}
		heldDoneAt.Store(time.Now().UnixNano())
		heldResult <- err
	}()
	time.Sleep(200 * time.Millisecond)
	// One synchronous writer has at most one write in flight at the fence; its reply may
	// land just after the snapshot. Anything beyond that went through the fence.
	if got := w.count(); got > frozen+1 {
		t.Errorf("%d writes acked while fenced", got-frozen)
	}
	waitFor(t, 15*time.Second, "the fence to lift after the abort", func() bool { return !tun.Status()[name].Fenced })
	unfencedAt := time.Now()
	select {
	case err := <-heldResult:
		if err != nil {
			t.Errorf("connection opened during the fence failed: %v", err)
		}
		if done := time.Unix(0, heldDoneAt.Load()); done.Before(unfencedAt.Add(-100 * time.Millisecond)) {
			t.Errorf("connection opened during the fence was served %s before the fence lifted", unfencedAt.Sub(done))
		}
	case <-time.After(5 * time.Second):
		t.Error("connection opened during the fence was not served after it lifted")
	}
	waitFor(t, 5*time.Second, "writes after the abort", func() bool { return w.count() > frozen+100 })
	if m := tun.Status()[name].Master; m != master.Addr() {
		t.Fatalf("routing to %s after the abort, want the old master %s", m, master.Addr())
	}
	// Let the frozen replica go only now: it executes the queued SLAVEOF NO ONE, and the
	// tunnel must not follow a promotion Sentinel has aborted.
	if err := replica.Resume(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if m := tun.Status()[name].Master; m != master.Addr() {
		t.Errorf("tunnel followed the aborted candidate to %s", m)
	}
	w.halt()
	w.mu.Lock()
	errs := w.errs
	w.mu.Unlock()
	if errs != 0 {
		t.Errorf("writer saw %d errors: the parked session was not resumed transparently", errs)
	}
	missing := missingKeys(t, master, w.snapshot())
	if len(missing) > 0 {
		t.Errorf("%d acked keys missing on the master after the abort", len(missing))
	}
	t.Logf("RESULT aborted failover: fenced %s, resumed with %d connection errors, %d acked writes, %d lost",
		unfencedAt.Sub(fencedAt).Round(time.Millisecond), errs, w.count(), len(missing))
}

// A master that hangs (SIGSTOP: alive but silent) is failed over by Sentinel while the
// writer's next SET waits in its socket. When it wakes (SIGCONT) it executes that SET and
// answers before Sentinel demotes it: a proxy that still bridged the session would hand
// the client an acknowledgement for a write the new master never sees. The tunnel cut the
// session at the cutover, so the client gets an error for it instead, and every write
// acknowledged after the hang is on the new master.
func TestIntegrationHungMasterLosesNoAckedWrite(t *testing.T) {
	requireIntegration(t)
	t.Parallel()
	c := startCluster(t)
	tun := startTunnel(t, c, nil)
	ctx := context.Background()
	name := c.MasterName()
	w := startWriter(t, tun.MasterAddr(name).String(), "hang")
	waitFor(t, 5*time.Second, "first acked writes", func() bool { return w.count() > 100 })

	old, err := c.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	if err := old.Pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.Resume() })
	failedBefore := w.errorCount()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	newMaster, err := c.WaitNewMaster(wctx, old)
	if err != nil {
		t.Fatalf("no failover away from the hung master: %v", err)
	}
	waitFor(t, 10*time.Second, "tunnel on the promoted master", func() bool { return tun.Status()[name].Master == newMaster.Addr() })
	waitFor(t, 10*time.Second, "writes after the failover", func() bool {
		return !firstAckAfter(w.snapshot(), pausedAt).IsZero()
	})
	if err := old.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "woken old master to become a replica", func() bool {
		role, err := redisproc.Role(ctx, old)
		return err == nil && role == "slave"
	})
	time.Sleep(300 * time.Millisecond)
	w.halt()
	if w.errorCount() == failedBefore {
		t.Error("the SET sent to the hung master did not fail: was the session left open?")
	}
	// Acks within a moment of the pause may be replies the master sent just before it:
	// those can miss the replicas (asynchronous replication), which no proxy can help.
	var afterHang []ack
	for _, a := range w.snapshot() {
		if a.at.After(pausedAt.Add(100 * time.Millisecond)) {
			afterHang = append(afterHang, a)
		}
	}
	if missing := missingKeys(t, newMaster, afterHang); len(missing) > 0 {
		t.Fatalf("%d of %d writes acknowledged after the hang are missing on the new master, e.g. %v",
			len(missing), len(afterHang), missing[:min(len(missing), 5)])
	}
	t.Logf("RESULT hung master: %d writes acknowledged after the hang, all on the new master", len(afterHang))
}
