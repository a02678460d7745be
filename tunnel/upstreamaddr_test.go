package tunnel

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// fakeResolver answers host lookups from a table and counts them.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	calls   int
}

func (f *fakeResolver) resolve(_ context.Context, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if a, ok := f.answers[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func (f *fakeResolver) set(host string, addrs ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	f.answers[host] = out
}

func newTestUpstreamAddrs(f *fakeResolver) *upstreamAddrs {
	u := newUpstreamAddrs(context.Background(), time.Second)
	u.resolve = f.resolve
	return u
}

// waitKnown polls lookup until addr resolves (the lookup runs in the background).
func waitKnown(t *testing.T, u *upstreamAddrs, addr string) netip.AddrPort {
	t.Helper()
	var ap netip.AddrPort
	waitFor(t, 5*time.Second, addr+" resolved", func() bool {
		var ok bool
		ap, ok = u.lookup(addr, time.Now())
		return ok
	})
	return ap
}

func TestUpstreamAddrsLiteralsNeedNoLookup(t *testing.T) {
	f := &fakeResolver{answers: map[string][]netip.Addr{}}
	u := newTestUpstreamAddrs(f)
	for _, addr := range []string{"10.1.2.3:6379", "[fd00::7]:6379"} {
		ap, ok := u.lookup(addr, time.Now())
		if !ok || ap != netip.MustParseAddrPort(addr) {
			t.Errorf("lookup(%s) = %v, %v; want the literal at once", addr, ap, ok)
		}
		u.forget(addr)
		if _, ok := u.lookup(addr, time.Now().Add(time.Hour)); !ok {
			t.Errorf("%s forgotten or expired: a literal has nothing to re-resolve", addr)
		}
	}
	if f.calls != 0 {
		t.Errorf("%d lookups for IP literals, want 0", f.calls)
	}
}

func TestUpstreamAddrsResolveInBackgroundPreferIPv4(t *testing.T) {
	f := &fakeResolver{answers: map[string][]netip.Addr{}}
	f.set("redis-0.redis", "fd00::5", "10.0.0.5")
	u := newTestUpstreamAddrs(f)
	if _, ok := u.lookup("redis-0.redis:6379", time.Now()); ok {
		t.Fatal("a name is known before any lookup")
	}
	if got, want := waitKnown(t, u, "redis-0.redis:6379"), netip.MustParseAddrPort("10.0.0.5:6379"); got != want {
		t.Errorf("resolved to %v, want the IPv4 answer %v", got, want)
	}
}

func TestUpstreamAddrsExpireAndForget(t *testing.T) {
	f := &fakeResolver{answers: map[string][]netip.Addr{}}
	f.set("redis-0.redis", "10.0.0.5")
	u := newTestUpstreamAddrs(f)
	u.lookup("redis-0.redis:6379", time.Now())
	waitKnown(t, u, "redis-0.redis:6379")

	// The pod came back with a new IP: after the TTL the answer is looked up again.
	f.set("redis-0.redis", "10.0.0.9")
	if _, ok := u.lookup("redis-0.redis:6379", time.Now().Add(u.ttl+time.Second)); ok {
		t.Fatal("an expired answer was used")
	}
	waitFor(t, 5*time.Second, "the new IP after expiry", func() bool {
		ap, ok := u.lookup("redis-0.redis:6379", time.Now())
		return ok && ap == netip.MustParseAddrPort("10.0.0.9:6379")
	})

	// A failed dial forgets the answer at once; a failed lookup leaves it unknown.
	u.forget("redis-0.redis:6379")
	delete(f.answers, "redis-0.redis")
	if _, ok := u.lookup("redis-0.redis:6379", time.Now()); ok {
		t.Fatal("a forgotten answer was used")
	}
	waitFor(t, 5*time.Second, "the failed lookup to finish", func() bool {
		u.mu.Lock()
		defer u.mu.Unlock()
		return !u.entries["redis-0.redis:6379"].resolving
	})
	if _, ok := u.lookup("redis-0.redis:6379", time.Now()); ok {
		t.Fatal("a name that does not resolve is known")
	}
}
