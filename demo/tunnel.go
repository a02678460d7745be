package demo

import (
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// localTunnel is the composed tunnel container as it runs here.
type localTunnel struct {
	args []string
	env  []string
	// masterAddr, readOnlyAddr and metricsAddr are where it listens on loopback.
	masterAddr, readOnlyAddr, metricsAddr string
}

// listenFlags are the tunnel flags whose values end in a listen address.
var listenFlags = []string{"--master", "--replicas", "--metrics-listen"}

// localizeTunnel takes the first container of the composed tunnel Deployment and remaps its
// arguments: Sentinel addresses to the local Sentinels, listen addresses to free loopback
// ports.
func (l *localizer) localizeTunnel(c *composed) (*localTunnel, error) {
	spec := c.tunnel.Spec.Template.Spec
	if len(spec.Containers) == 0 {
		return nil, fmt.Errorf("Deployment %s has no container", c.tunnel.Name)
	}
	ctr := spec.Containers[0]
	env, err := c.env(ctr, c.tunnel.Name+"-0")
	if err != nil {
		return nil, err
	}
	t := &localTunnel{}
	for _, k := range slices.Sorted(maps.Keys(env)) {
		t.env = append(t.env, k+"="+env[k])
	}
	for _, arg := range append(slices.Clone(ctr.Command[min(1, len(ctr.Command)):]), ctr.Args...) {
		arg = l.remapAddrs(arg)
		for _, flag := range listenFlags {
			value, ok := strings.CutPrefix(arg, flag+"=")
			if !ok {
				continue
			}
			name, addr, named := strings.Cut(value, "=")
			if !named { // --metrics-listen=ADDR
				name, addr = "", value
			}
			local, err := loopbackFor(addr)
			if err != nil {
				return nil, fmt.Errorf("tunnel argument %s: %w", arg, err)
			}
			switch flag {
			case "--master":
				t.masterAddr = local
			case "--replicas":
				t.readOnlyAddr = local
			case "--metrics-listen":
				t.metricsAddr = local
			}
			if named {
				local = name + "=" + local
			}
			arg = flag + "=" + local
		}
		t.args = append(t.args, arg)
	}
	if t.masterAddr == "" {
		return nil, fmt.Errorf("the composed tunnel has no --master listener: args %q", ctr.Args)
	}
	return t, nil
}

// loopbackFor returns a free loopback address standing in for a listen address such as ":6379".
func loopbackFor(addr string) (string, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return "", err
	}
	port, err := redisproc.FreePort("127.0.0.1")
	if err != nil {
		return "", err
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), nil
}
