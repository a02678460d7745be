package demo

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/function"
)

// composed is the part of what the function composed that the demo runs: the shared
// configuration, the two StatefulSets, the tunnel Deployment and the Secrets they read.
type composed struct {
	config   map[string]string // the config ConfigMap: redis.conf, sentinel.conf, scripts
	redis    appsv1.StatefulSet
	sentinel appsv1.StatefulSet
	tunnel   appsv1.Deployment
	secrets  map[string]corev1.Secret
	summary  []string // "Kind name" of every composed object, sorted
}

// renderExample runs the composition function in-process on the XR in path, as Crossplane
// would on its first reconcile. It returns what was composed and the password from the
// connection Secret named in the XR's status, which is what an application reads.
func renderExample(ctx context.Context, path string) (*composed, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the example: %w", err)
	}
	xr := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &xr.Object); err != nil {
		return nil, "", fmt.Errorf("cannot parse %s: %w", path, err)
	}
	out, err := function.Render(ctx, function.RenderInput{XR: xr})
	if err != nil {
		return nil, "", fmt.Errorf("the function rejected %s: %w", path, err)
	}
	c, err := readComposed(out.Composed)
	if err != nil {
		return nil, "", err
	}
	secret, _, _ := unstructured.NestedString(out.XR.Object, "status", "connectionSecret")
	if secret == "" {
		return nil, "", fmt.Errorf("the function set no status.connectionSecret on %s", xr.GetName())
	}
	password, err := c.secretValue(secret, "password")
	if err != nil {
		return nil, "", fmt.Errorf("cannot read the connection Secret: %w", err)
	}
	return c, password, nil
}

// masterName is the Sentinel master name the Redis pods are told.
func (c *composed) masterName() string {
	for _, ctr := range c.redis.Spec.Template.Spec.InitContainers {
		for _, e := range ctr.Env {
			if e.Name == "REDIS_HA_MASTER_NAME" {
				return e.Value
			}
		}
	}
	return ""
}

// readComposed picks the objects the demo runs out of the composed set, by kind and
// app.kubernetes.io/component label.
func readComposed(objs map[string]*unstructured.Unstructured) (*composed, error) {
	c := &composed{secrets: map[string]corev1.Secret{}}
	var found struct{ config, redis, sentinel, tunnel bool }
	for _, u := range objs {
		c.summary = append(c.summary, u.GetKind()+" "+u.GetName())
		component := u.GetLabels()["app.kubernetes.io/component"]
		var err error
		switch {
		case u.GetKind() == "ConfigMap" && hasKeys(u, "data", "redis.conf", "sentinel.conf"):
			var cm corev1.ConfigMap
			err = fromUnstructured(u, &cm)
			c.config, found.config = cm.Data, true
		case u.GetKind() == "StatefulSet" && component == "redis":
			err = fromUnstructured(u, &c.redis)
			found.redis = true
		case u.GetKind() == "StatefulSet" && component == "sentinel":
			err = fromUnstructured(u, &c.sentinel)
			found.sentinel = true
		case u.GetKind() == "Deployment" && component == "tunnel":
			err = fromUnstructured(u, &c.tunnel)
			found.tunnel = true
		case u.GetKind() == "Secret":
			var s corev1.Secret
			err = fromUnstructured(u, &s)
			c.secrets[s.Name] = s
		}
		if err != nil {
			return nil, fmt.Errorf("cannot read composed %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	slices.Sort(c.summary)
	var missing []string
	for what, ok := range map[string]bool{
		"the ConfigMap with redis.conf and sentinel.conf": found.config,
		"the Redis StatefulSet":                           found.redis,
		"the Sentinel StatefulSet":                        found.sentinel,
		"the tunnel Deployment":                           found.tunnel,
	} {
		if !ok {
			missing = append(missing, what)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("the function composed no %s", strings.Join(missing, ", no "))
	}
	return c, nil
}

func hasKeys(u *unstructured.Unstructured, field string, keys ...string) bool {
	m, ok, _ := unstructured.NestedMap(u.Object, field)
	if !ok {
		return false
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

func fromUnstructured(u *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true)
}

// env is the environment a container of pod podName gets, resolved the way the kubelet does
// it for the sources the function uses: plain values with $(VAR) references to earlier
// variables, Secret keys, and the pod name from the downward API.
func (c *composed) env(ctr corev1.Container, podName string) (map[string]string, error) {
	env := map[string]string{}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = expandEnvRefs(e.Value, env)
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			v, err := c.secretValue(ref.Name, ref.Key)
			if err != nil {
				return nil, fmt.Errorf("container %s env %s: %w", ctr.Name, e.Name, err)
			}
			env[e.Name] = v
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = podName
		default:
			return nil, fmt.Errorf("container %s env %s: the demo resolves values, Secret keys and metadata.name only", ctr.Name, e.Name)
		}
	}
	return env, nil
}

// secretValue returns one key of a composed Secret, from data or stringData.
func (c *composed) secretValue(name, key string) (string, error) {
	s, ok := c.secrets[name]
	if !ok {
		return "", fmt.Errorf("the function composed no Secret %s", name)
	}
	if v, ok := s.StringData[key]; ok {
		return v, nil
	}
	if v, ok := s.Data[key]; ok {
		return string(v), nil
	}
	return "", fmt.Errorf("Secret %s has no key %s", name, key)
}

// expandEnvRefs replaces $(NAME) with the value of an earlier variable, as Kubernetes does;
// unknown references stay as they are.
func expandEnvRefs(v string, env map[string]string) string {
	for name, val := range env {
		v = strings.ReplaceAll(v, "$("+name+")", val)
	}
	return v
}
