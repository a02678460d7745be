package tunnel

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// TestReadmeMetricsList keeps the README's list of tunnel metrics true: every series the
// tunnel registers is named there (without the redis_ha_tunnel_ prefix), and nothing else.
func TestReadmeMetricsList(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, list, ok := strings.Cut(string(readme), "Metrics (all prefixed `redis_ha_tunnel_`):")
	if !ok {
		t.Fatal("README.md has no tunnel metrics list (Metrics (all prefixed `redis_ha_tunnel_`): ...)")
	}
	list, _, _ = strings.Cut(list, "\n\n")
	var documented []string
	for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(list, -1) {
		documented = append(documented, m[1])
	}

	fqName := regexp.MustCompile(`fqName: "redis_ha_tunnel_([a-z_]+)"`)
	var registered []string
	for _, c := range newMetrics().own() {
		descs := make(chan *prometheus.Desc, 4)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			if s := fqName.FindStringSubmatch(d.String()); s != nil {
				registered = append(registered, s[1])
			}
		}
	}
	slices.Sort(documented)
	slices.Sort(registered)
	if diff := cmp.Diff(registered, documented); diff != "" {
		t.Errorf("README tunnel metrics (-registered +documented):\n%s", diff)
	}
}
