package function

import (
	"encoding/base64"
	"net"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"

	"github.com/crossplane/function-sdk-go/errors"
	"github.com/crossplane/function-sdk-go/resource"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

// passwordKey is the key of the password in the Secret the function generates.
const passwordKey = "password"

// credentials says where the pods read the password and, when the function knows it, what
// it is (the connection Secret needs the value, the pods only the reference).
type credentials struct {
	enabled bool
	// secretName and secretKey are what pods reference with secretKeyRef.
	secretName string
	secretKey  string
	// password is the value; known is false while an existing Secret has not been read.
	password string
	known    bool
	// generated is true when the function owns the password Secret.
	generated bool
}

// passwordSources is what resolveCredentials reads the password from.
type passwordSources struct {
	observed map[resource.Name]resource.ObservedComposed
	// existing is the Secret named by spec.auth.existingSecret, as Crossplane returned it;
	// nil when Crossplane has not (yet) found it.
	existing *unstructured.Unstructured
	// generate makes a new random password; only called when no password exists yet.
	generate func() string
}

// resolveCredentials decides the password. A generated password is made once and then
// carried over from the observed password Secret on every later run, so no spec change ever
// rotates it (rotating would lock every connected client out). If that Secret is somehow
// gone, the observed connection Secret still holds the same password and wins over a new one.
func resolveCredentials(in *instance, src passwordSources) (credentials, error) {
	auth := in.spec.Auth
	if !auth.AuthEnabled() {
		return credentials{}, nil
	}
	if ref := auth.ExistingSecret; ref != nil {
		c := credentials{enabled: true, secretName: ref.Name, secretKey: ref.Key}
		if src.existing != nil {
			pw, ok, err := secretValue(src.existing, ref.Key)
			if err != nil {
				return c, errors.Wrapf(err, "cannot read spec.auth.existingSecret %q", ref.Name)
			}
			if !ok {
				return c, errors.Errorf("spec.auth.existingSecret: Secret %q has no key %q: add the key to the Secret or set spec.auth.existingSecret.key to the key that holds the password", ref.Name, ref.Key)
			}
			c.password, c.known = pw, true
		}
		return c, nil
	}
	c := credentials{enabled: true, secretName: in.passwordSecretName(), secretKey: passwordKey, known: true, generated: true}
	for _, from := range []struct {
		name resource.Name
		key  string
	}{
		{resourcePasswordSecret, passwordKey},
		{resourceConnectionSecret, v1alpha1.ConnectionSecretKeyPassword},
	} {
		oc, ok := src.observed[from.name]
		if !ok {
			continue
		}
		pw, ok, err := secretValue(&oc.Resource.Unstructured, from.key)
		if err != nil {
			return c, errors.Wrapf(err, "cannot read the password from observed composed resource %q", from.name)
		}
		if ok {
			c.password = pw
			return c, nil
		}
	}
	c.password = src.generate()
	return c, nil
}

// secretValue returns one decoded key of a Secret held as unstructured data.
func secretValue(s *unstructured.Unstructured, key string) (string, bool, error) {
	if v, ok, _ := unstructured.NestedString(s.Object, "stringData", key); ok && v != "" {
		return v, true, nil
	}
	enc, ok, err := unstructured.NestedString(s.Object, "data", key)
	if err != nil {
		return "", false, errors.Wrapf(err, "cannot read data.%s of Secret %q", key, s.GetName())
	}
	if !ok || enc == "" {
		return "", false, nil
	}
	b, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", false, errors.Wrapf(err, "cannot decode data.%s of Secret %q", key, s.GetName())
	}
	return string(b), len(b) > 0, nil
}

// composePasswordSecret is the Secret holding the generated password, or nil when the
// password comes from spec.auth.existingSecret or auth is off.
func composePasswordSecret(in *instance, c credentials) (*unstructured.Unstructured, error) {
	if !c.generated {
		return nil, nil
	}
	s := corev1ac.Secret(in.passwordSecretName(), in.namespace).
		WithLabels(in.labels(componentAuth)).
		WithType(corev1.SecretTypeOpaque).
		WithData(map[string][]byte{passwordKey: []byte(c.password)})
	return toUnstructured(s)
}

// connectionDetails are the keys applications read to connect: host, port, password and a
// redis:// URL, plus the read-only variants when that endpoint is on.
func connectionDetails(in *instance, c credentials) map[string][]byte {
	scheme := "redis"
	if in.spec.TLS.Enabled {
		scheme = "rediss"
	}
	host := in.serviceDomain(in.tunnelName())
	d := map[string][]byte{
		v1alpha1.ConnectionSecretKeyHost: []byte(host),
		v1alpha1.ConnectionSecretKeyPort: []byte(strconv.Itoa(tunnelPort)),
		v1alpha1.ConnectionSecretKeyURL:  []byte(redisURL(scheme, host, tunnelPort, c)),
	}
	if c.enabled {
		d[v1alpha1.ConnectionSecretKeyPassword] = []byte(c.password)
	}
	if in.spec.Tunnel.ReadOnlyEndpointEnabled() {
		roHost := in.serviceDomain(in.tunnelReadOnlyName())
		d[v1alpha1.ConnectionSecretKeyReadOnlyHost] = []byte(roHost)
		d[v1alpha1.ConnectionSecretKeyReadOnlyPort] = []byte(strconv.Itoa(tunnelReadOnlyPort))
		d[v1alpha1.ConnectionSecretKeyReadOnlyURL] = []byte(redisURL(scheme, roHost, tunnelReadOnlyPort, c))
	}
	return d
}

// redisURL is a URL redis clients accept: redis://:password@host:port (no user name, so it
// authenticates as the default user, which is what requirepass protects).
func redisURL(scheme, host string, port int, c credentials) string {
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if c.enabled {
		u.User = url.UserPassword("", c.password)
	}
	return u.String()
}

// composeConnectionSecret is the Secret applications read, holding details (see
// connectionDetails). While the password of an existing Secret is not known yet (details is
// nil), it keeps what was observed rather than disappear, because a composed resource missing
// from the desired state is deleted. It returns nil only when there is nothing to keep yet.
func composeConnectionSecret(in *instance, details map[string][]byte, observed map[resource.Name]resource.ObservedComposed) (*unstructured.Unstructured, error) {
	data := details
	if data == nil {
		oc, ok := observed[resourceConnectionSecret]
		if !ok {
			return nil, nil
		}
		kept, _, err := unstructured.NestedStringMap(oc.Resource.Object, "data")
		if err != nil {
			return nil, errors.Wrapf(err, "cannot read data of observed composed resource %q", resourceConnectionSecret)
		}
		data = make(map[string][]byte, len(kept))
		for k, v := range kept {
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return nil, errors.Wrapf(err, "cannot decode data.%s of observed composed resource %q", k, resourceConnectionSecret)
			}
			data[k] = b
		}
	}
	s := corev1ac.Secret(in.connectionSecretName(), in.namespace).
		WithLabels(in.labels(componentAuth)).
		WithType(corev1.SecretTypeOpaque).
		WithData(data)
	return toUnstructured(s)
}
