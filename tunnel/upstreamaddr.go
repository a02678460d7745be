package tunnel

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// upstreamAddrs turns the upstream addresses Sentinel announces (host:port, where host is
// an IP or, in Kubernetes, a pod's DNS name) into socket addresses for the reactor's
// non-blocking dials, which must not wait for DNS. An IP literal parses at once. A host
// name is looked up in the background and its answer used for ttl; until it is known,
// once it expired, or after a dial to it failed, lookup reports false and the connection
// takes the goroutine path, whose dialer resolves the name itself. So a pod that came
// back with a new IP costs at most one failed dial per connection in flight, never a
// stale route.
type upstreamAddrs struct {
	ttl     time.Duration
	resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// ctx bounds background lookups (the tunnel's lifetime); timeout bounds each one.
	ctx     context.Context
	timeout time.Duration

	mu      sync.Mutex
	entries map[string]*upstreamAddr
}

type upstreamAddr struct {
	ap        netip.AddrPort
	expires   time.Time // zero: never (an IP literal)
	known     bool
	resolving bool
}

func newUpstreamAddrs(ctx context.Context, timeout time.Duration) *upstreamAddrs {
	return &upstreamAddrs{
		ttl: 5 * time.Second,
		resolve: func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		},
		ctx:     ctx,
		timeout: timeout,
		entries: map[string]*upstreamAddr{},
	}
}

// lookup returns the socket address for addr, or false when it is not known now (a
// background lookup is then under way).
func (u *upstreamAddrs) lookup(addr string, now time.Time) (netip.AddrPort, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e := u.entries[addr]
	if e == nil {
		e = &upstreamAddr{}
		if ap, err := netip.ParseAddrPort(addr); err == nil {
			e.ap, e.known = ap, true
		}
		u.entries[addr] = e
	}
	if e.known && (e.expires.IsZero() || now.Before(e.expires)) {
		return e.ap, true
	}
	if !e.resolving {
		e.resolving = true
		go u.refresh(addr)
	}
	return netip.AddrPort{}, false
}

// forget drops a resolved name after a failed dial, so the next connections re-resolve
// it through the goroutine path. IP literals stay: there is nothing to re-resolve.
func (u *upstreamAddrs) forget(addr string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if e := u.entries[addr]; e != nil && !e.expires.IsZero() {
		e.known = false
	}
}

// refresh resolves addr's host and stores one address: a pod's name has one; a name with
// both families (localhost) gets its IPv4 one, which a server bound to 0.0.0.0 or
// 127.0.0.1 answers.
func (u *upstreamAddrs) refresh(addr string) {
	var ap netip.AddrPort
	ok := false
	if host, portStr, err := net.SplitHostPort(addr); err == nil {
		if port, err := net.LookupPort("tcp", portStr); err == nil {
			ctx, cancel := context.WithTimeout(u.ctx, u.timeout)
			ips, err := u.resolve(ctx, host)
			cancel()
			if err == nil && len(ips) > 0 {
				ip := ips[0].Unmap()
				for _, cand := range ips {
					if cand.Unmap().Is4() {
						ip = cand.Unmap()
						break
					}
				}
				ap, ok = netip.AddrPortFrom(ip, uint16(port)), true
			}
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	e := u.entries[addr]
	e.resolving = false
	if ok {
		e.ap, e.known, e.expires = ap, true, time.Now().Add(u.ttl)
	}
}
