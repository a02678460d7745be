package demo

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/redis-ha/redis-ha/internal/redisproc"
)

// localPod is one pod of a composed StatefulSet as it runs here: its resolved environment,
// with cluster host names, ports and mount paths remapped to this machine.
type localPod struct {
	name     string
	port     int               // the loopback port it listens on
	env      map[string]string // the main container's environment, remapped
	initCmd  []string          // the init container's command and args, remapped
	initEnv  map[string]string
	confPath string // the config file the main container starts with, remapped
	kind     redisproc.Kind
	dataDir  string
}

// localizer remaps what the composed objects say about the cluster to this machine: each
// pod's "host:port" to a free loopback port, each volume mount to a directory under workDir.
// Nothing else in the configuration changes.
type localizer struct {
	workDir string
	// addrs maps cluster addresses ("cache-redis-0.cache-redis-headless.default.svc:6379")
	// to loopback ones.
	addrs map[string]string
}

func newLocalizer(workDir string) *localizer {
	return &localizer{workDir: workDir, addrs: map[string]string{}}
}

// announcedAddr is the "host:port" a pod announces, from the variables the function sets on
// every Redis and Sentinel container.
func announcedAddr(env map[string]string) (string, error) {
	host, port := env["REDIS_HA_ANNOUNCE_HOST"], env["REDIS_HA_PORT"]
	if host == "" || port == "" {
		return "", fmt.Errorf("REDIS_HA_ANNOUNCE_HOST and REDIS_HA_PORT must be set, got %q and %q", host, port)
	}
	return net.JoinHostPort(host, port), nil
}

// pods resolves the pods of a StatefulSet and reserves a loopback port for each.
func (l *localizer) pods(c *composed, sts *appsv1.StatefulSet, kind redisproc.Kind) ([]*localPod, error) {
	replicas := 1
	if sts.Spec.Replicas != nil {
		replicas = int(*sts.Spec.Replicas)
	}
	spec := sts.Spec.Template.Spec
	if len(spec.InitContainers) != 1 || len(spec.Containers) == 0 {
		return nil, fmt.Errorf("StatefulSet %s: the demo expects one init container and the server as first container", sts.Name)
	}
	var pods []*localPod
	for i := range replicas {
		name := fmt.Sprintf("%s-%d", sts.Name, i)
		env, err := c.env(spec.Containers[0], name)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
		initEnv, err := c.env(spec.InitContainers[0], name)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
		addr, err := announcedAddr(env)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
		port, err := redisproc.FreePort("127.0.0.1")
		if err != nil {
			return nil, err
		}
		l.addrs[addr] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		podDir := filepath.Join(l.workDir, name)
		mounts := l.mounts(spec, sts.Spec.VolumeClaimTemplates, podDir)
		main := spec.Containers[0]
		cmd := append(slices.Clone(main.Command), main.Args...)
		if len(cmd) < 2 {
			return nil, fmt.Errorf("pod %s: the server container must run %s with a config file, got %q", name, kind, cmd)
		}
		initCtr := spec.InitContainers[0]
		for _, v := range spec.Volumes {
			if v.ConfigMap != nil {
				if err := writeConfig(filepath.Join(podDir, v.Name), c.config, mounts(main)); err != nil {
					return nil, err
				}
			}
		}
		baseConf, err := os.ReadFile(remapPath(initEnv["REDIS_HA_BASE_CONF"], mounts(initCtr)))
		if err != nil {
			return nil, fmt.Errorf("pod %s: cannot read the shared config named by REDIS_HA_BASE_CONF: %w", name, err)
		}
		dataDir := configDirective(string(baseConf), "dir")
		if dataDir == "" {
			return nil, fmt.Errorf("pod %s: the shared config sets no dir", name)
		}
		pods = append(pods, &localPod{
			name:     name,
			port:     port,
			env:      env,
			initEnv:  initEnv,
			initCmd:  remapPaths(append(slices.Clone(initCtr.Command), initCtr.Args...), mounts(initCtr)),
			confPath: remapPath(cmd[1], mounts(main)),
			kind:     kind,
			dataDir:  remapPath(dataDir, mounts(main)),
		})
	}
	return pods, nil
}

// remap rewrites the pods' environments once every pod of the deployment has its loopback
// address, since each pod's environment names all the others.
func (l *localizer) remap(pods []*localPod, sts *appsv1.StatefulSet) {
	spec := sts.Spec.Template.Spec
	for _, p := range pods {
		mounts := l.mounts(spec, sts.Spec.VolumeClaimTemplates, filepath.Join(l.workDir, p.name))
		p.initEnv = l.remapEnv(p.initEnv, mounts(spec.InitContainers[0]), p.port)
		p.env = l.remapEnv(p.env, mounts(spec.Containers[0]), p.port)
	}
}

// configDirective returns the value of the last line "name value" of a redis.conf or
// sentinel.conf text, or "".
func configDirective(conf, name string) string {
	value := ""
	for _, line := range strings.Split(conf, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == name {
			value = strings.Trim(fields[1], `"`)
		}
	}
	return value
}

// mounts returns, for a container of the pod, its mount paths mapped to local directories:
// every volume (the ConfigMap, emptyDirs and the StatefulSet's volume claims) to
// podDir/<volume>.
func (l *localizer) mounts(spec corev1.PodSpec, claims []corev1.PersistentVolumeClaim, podDir string) func(corev1.Container) map[string]string {
	local := map[string]string{}
	for _, pvc := range claims {
		local[pvc.Name] = filepath.Join(podDir, pvc.Name)
	}
	for _, v := range spec.Volumes {
		local[v.Name] = filepath.Join(podDir, v.Name)
	}
	return func(ctr corev1.Container) map[string]string {
		m := map[string]string{}
		for _, vm := range ctr.VolumeMounts {
			if dir, ok := local[vm.Name]; ok {
				m[vm.MountPath] = dir
			}
		}
		return m
	}
}

// remapEnv rewrites the environment of one container: cluster addresses to loopback, mount
// paths to local directories, and the announced host and port to this pod's loopback ones.
func (l *localizer) remapEnv(env, mounts map[string]string, port int) map[string]string {
	out := map[string]string{}
	for k, v := range env {
		out[k] = remapPath(l.remapAddrs(v), mounts)
	}
	out["REDIS_HA_ANNOUNCE_HOST"] = "127.0.0.1"
	out["REDIS_HA_PORT"] = strconv.Itoa(port)
	return out
}

// remapAddrs replaces every cluster address in s with its loopback address.
func (l *localizer) remapAddrs(s string) string {
	// Longest first, so "a-1.svc:6379" is not half-replaced by a shorter "a-1.svc:637" look-alike.
	for _, from := range slices.SortedFunc(maps.Keys(l.addrs), func(a, b string) int { return len(b) - len(a) }) {
		s = strings.ReplaceAll(s, from, l.addrs[from])
	}
	return s
}

// remapPath rewrites a path under one of the mount paths to the local directory.
func remapPath(p string, mounts map[string]string) string {
	best := ""
	for mountPath := range mounts {
		if (p == mountPath || strings.HasPrefix(p, mountPath+"/")) && len(mountPath) > len(best) {
			best = mountPath
		}
	}
	if best == "" {
		return p
	}
	return mounts[best] + strings.TrimPrefix(p, best)
}

func remapPaths(words []string, mounts map[string]string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		// Paths may stand inside words, e.g. "--config=/etc/x"; mount paths are absolute.
		out[i] = w
		for mountPath := range mounts {
			if idx := strings.Index(w, mountPath); idx >= 0 {
				out[i] = w[:idx] + remapPath(w[idx:], mounts)
				break
			}
		}
	}
	return out
}

// writeConfig writes the composed ConfigMap into the pod's config volume, as the kubelet
// would. In the .conf files the pod's mount paths (its dir, say) become its local directories.
func writeConfig(dir string, data map[string]string, mounts map[string]string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for key, content := range data {
		if strings.HasSuffix(key, ".conf") {
			content = remapConfPaths(content, mounts)
		}
		if err := os.WriteFile(filepath.Join(dir, key), []byte(content), 0o644); err != nil {
			return fmt.Errorf("cannot write %s of the composed ConfigMap: %w", key, err)
		}
	}
	return nil
}

// remapConfPaths rewrites absolute paths under a mount path in a config text: each word
// that is such a path, possibly quoted.
func remapConfPaths(conf string, mounts map[string]string) string {
	lines := strings.Split(conf, "\n")
	for i, line := range lines {
		words := strings.Fields(line)
		for _, w := range words {
			bare := strings.Trim(w, `"`)
			if mapped := remapPath(bare, mounts); mapped != bare {
				line = strings.Replace(line, bare, mapped, 1)
			}
		}
		lines[i] = line
	}
	return strings.Join(lines, "\n")
}

// start runs the pod: first its init container's script, which decides master or replica
// and writes the config, then the server with that config.
func (p *localPod) start(ctx context.Context, password string) (*redisproc.Process, error) {
	if err := p.runInit(ctx); err != nil {
		return nil, err
	}
	conf, err := os.ReadFile(p.confPath)
	if err != nil {
		return nil, fmt.Errorf("pod %s: the init script wrote no config: %w", p.name, err)
	}
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		return nil, err
	}
	return redisproc.Start(ctx, redisproc.Spec{
		Kind: p.kind, Name: p.name, Config: string(conf), Port: p.port, Dir: p.dataDir, Password: password,
	})
}

// runInit runs the init container's command with its environment.
func (p *localPod) runInit(ctx context.Context) error {
	for _, v := range p.initEnv {
		if strings.HasPrefix(v, "/") {
			_ = os.MkdirAll(filepath.Dir(v), 0o755) // where a script writes its output
		}
	}
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, p.initCmd[0], p.initCmd[1:]...)
	cmd.Env = os.Environ()
	for _, k := range slices.Sorted(maps.Keys(p.initEnv)) {
		cmd.Env = append(cmd.Env, k+"="+p.initEnv[k])
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pod %s: init script %s failed: %w\n%s", p.name, strings.Join(p.initCmd, " "), err, out)
	}
	return nil
}
