package function

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"

	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

func observedSecret(name string, data map[string]string) resource.ObservedComposed {
	enc := map[string]any{}
	for k, v := range data {
		enc[k] = base64.StdEncoding.EncodeToString([]byte(v))
	}
	return resource.ObservedComposed{Resource: &composed.Unstructured{Unstructured: unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": name}, "data": enc,
	}}}}
}

func testInstance(mutate func(*v1alpha1.RedisHASpec)) *instance {
	spec := v1alpha1.RedisHASpec{}
	if mutate != nil {
		mutate(&spec)
	}
	spec.Default()
	return &instance{name: "cache", namespace: "default", spec: spec}
}

func TestResolveCredentials(t *testing.T) {
	generate := func() string { return "NEW" }
	type args struct {
		in  *instance
		src passwordSources
	}
	type want struct {
		c   credentials
		err string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"GeneratedOnFirstRun": {
			reason: "Without any observed Secret a new password is generated.",
			args:   args{in: testInstance(nil), src: passwordSources{generate: generate}},
			want:   want{c: credentials{enabled: true, secretName: "cache-password", secretKey: "password", password: "NEW", known: true, generated: true}},
		},
		"CarriedOverFromPasswordSecret": {
			reason: "The observed password Secret wins over a new password: it is never rotated.",
			args: args{in: testInstance(nil), src: passwordSources{generate: generate, observed: map[resource.Name]resource.ObservedComposed{
				resourcePasswordSecret:   observedSecret("cache-password", map[string]string{"password": "OLD"}),
				resourceConnectionSecret: observedSecret("cache-redis", map[string]string{"password": "OTHER"}),
			}}},
			want: want{c: credentials{enabled: true, secretName: "cache-password", secretKey: "password", password: "OLD", known: true, generated: true}},
		},
		"CarriedOverFromConnectionSecret": {
			reason: "If the password Secret is gone, the connection Secret still holds the password clients use.",
			args: args{in: testInstance(nil), src: passwordSources{generate: generate, observed: map[resource.Name]resource.ObservedComposed{
				resourceConnectionSecret: observedSecret("cache-redis", map[string]string{"password": "OLD"}),
			}}},
			want: want{c: credentials{enabled: true, secretName: "cache-password", secretKey: "password", password: "OLD", known: true, generated: true}},
		},
		"AuthDisabled": {
			reason: "With auth off there is no password at all.",
			args:   args{in: testInstance(func(s *v1alpha1.RedisHASpec) { s.Auth.Enabled = ptr.To(false) }), src: passwordSources{generate: generate}},
			want:   want{c: credentials{}},
		},
		"ExistingSecretNotYetRead": {
			reason: "Pods reference the existing Secret even before the function has read it.",
			args: args{in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Auth.ExistingSecret = &v1alpha1.SecretKeyRef{Name: "mine", Key: "pw"}
			}), src: passwordSources{generate: generate}},
			want: want{c: credentials{enabled: true, secretName: "mine", secretKey: "pw"}},
		},
		"ExistingSecretRead": {
			reason: "The existing Secret's value is used for the connection Secret.",
			args: args{in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Auth.ExistingSecret = &v1alpha1.SecretKeyRef{Name: "mine", Key: "pw"}
			}), src: passwordSources{generate: generate, existing: &observedSecret("mine", map[string]string{"pw": "S3CRET"}).Resource.Unstructured}},
			want: want{c: credentials{enabled: true, secretName: "mine", secretKey: "pw", password: "S3CRET", known: true}},
		},
		"ExistingSecretMissingKey": {
			reason: "A Secret without the named key is an error naming the key and the fix.",
			args: args{in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Auth.ExistingSecret = &v1alpha1.SecretKeyRef{Name: "mine", Key: "pw"}
			}), src: passwordSources{generate: generate, existing: &observedSecret("mine", map[string]string{"password": "S3CRET"}).Resource.Unstructured}},
			want: want{c: credentials{enabled: true, secretName: "mine", secretKey: "pw"}, err: `spec.auth.existingSecret: Secret "mine" has no key "pw": add the key to the Secret or set spec.auth.existingSecret.key to the key that holds the password`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := resolveCredentials(tc.args.in, tc.args.src)
			if diff := cmp.Diff(tc.want.c, c, cmp.AllowUnexported(credentials{})); diff != "" {
				t.Errorf("%s\nresolveCredentials(...): -want, +got:\n%s", tc.reason, diff)
			}
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if diff := cmp.Diff(tc.want.err, gotErr); diff != "" {
				t.Errorf("%s\nresolveCredentials(...): -want error, +got error:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestPasswordCarryover runs the function twice, the second time observing what the first
// composed and with a changed spec, and checks the password did not change.
func TestPasswordCarryover(t *testing.T) {
	ctx := context.Background()
	first, err := Render(ctx, RenderInput{XR: readExample(t, "redisha.yaml"), Options: []Option{WithPasswordGenerator(func() string { return "FIRST" })}})
	if err != nil {
		t.Fatal(err)
	}
	xr := readExample(t, "redisha.yaml")
	if err := unstructured.SetNestedField(xr.Object, "medium", "spec", "size"); err != nil {
		t.Fatal(err)
	}
	second, err := Render(ctx, RenderInput{XR: xr, Observed: first.Composed, Options: []Option{WithPasswordGenerator(func() string { return "SECOND" })}})
	if err != nil {
		t.Fatal(err)
	}
	for _, rn := range []resource.Name{resourcePasswordSecret, resourceConnectionSecret} {
		key := "password"
		pw, _, err := secretValue(second.Composed[string(rn)], key)
		if err != nil {
			t.Fatal(err)
		}
		if pw != "FIRST" {
			t.Errorf("after a spec change %s holds password %q, want the first run's %q: a generated password must never rotate", rn, pw, "FIRST")
		}
	}
	if got := string(second.ConnectionDetails["url"]); got != "redis://:FIRST@cache-tunnel.default.svc:6379" {
		t.Errorf("connection url = %q, want it to carry the first password", got)
	}
}

func TestConnectionDetails(t *testing.T) {
	c := credentials{enabled: true, password: "p@ss word", known: true}
	cases := map[string]struct {
		reason string
		in     *instance
		c      credentials
		want   map[string]string
	}{
		"PasswordAndReadOnly": {
			reason: "Defaults: password, redis:// URLs with the password escaped, read-only endpoint.",
			in:     testInstance(nil), c: c,
			want: map[string]string{
				"host": "cache-tunnel.default.svc", "port": "6379", "password": "p@ss word",
				"url":          "redis://:p%40ss%20word@cache-tunnel.default.svc:6379",
				"readOnlyHost": "cache-tunnel-ro.default.svc", "readOnlyPort": "6380",
				"readOnlyUrl": "redis://:p%40ss%20word@cache-tunnel-ro.default.svc:6380",
			},
		},
		"NoAuthNoReadOnlyTLS": {
			reason: "Without auth there is no password; without the read-only endpoint no read-only keys; TLS uses rediss://.",
			in: testInstance(func(s *v1alpha1.RedisHASpec) {
				s.Auth.Enabled = ptr.To(false)
				s.Tunnel.ReadOnlyEndpoint = ptr.To(false)
				s.TLS = v1alpha1.TLSSpec{Enabled: true, SecretName: "tls"}
			}),
			want: map[string]string{"host": "cache-tunnel.default.svc", "port": "6379", "url": "rediss://cache-tunnel.default.svc:6379"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := map[string]string{}
			for k, v := range connectionDetails(tc.in, tc.c) {
				got[k] = string(v)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s\nconnectionDetails(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestComposeConnectionSecret(t *testing.T) {
	type args struct {
		details  map[string][]byte
		observed map[resource.Name]resource.ObservedComposed
	}
	type want struct {
		// data is the Secret's decoded data; nil means no Secret is composed.
		data map[string]string
	}
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"KnownDetails": {
			reason: "Known details are written, whatever was observed.",
			args: args{
				details:  map[string][]byte{"host": []byte("h"), "password": []byte("new")},
				observed: map[resource.Name]resource.ObservedComposed{resourceConnectionSecret: observedSecret("cache-redis", map[string]string{"password": "old"})},
			},
			want: want{data: map[string]string{"host": "h", "password": "new"}},
		},
		"UnknownDetailsKeepObserved": {
			reason: "While the existing Secret's password is unknown, the observed data is kept, so the Secret is not deleted.",
			args: args{
				observed: map[resource.Name]resource.ObservedComposed{resourceConnectionSecret: observedSecret("cache-redis", map[string]string{"password": "old"})},
			},
			want: want{data: map[string]string{"password": "old"}},
		},
		"UnknownDetailsNothingObserved": {
			reason: "With nothing known and nothing to keep, there is no Secret yet.",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			u, err := composeConnectionSecret(testInstance(nil), tc.args.details, tc.args.observed)
			if err != nil {
				t.Fatalf("%s\ncomposeConnectionSecret(...): %v", tc.reason, err)
			}
			var got map[string]string
			if u != nil {
				if u.GetName() != "cache-redis" {
					t.Errorf("%s\ncomposeConnectionSecret(...): name %q, want cache-redis", tc.reason, u.GetName())
				}
				got = map[string]string{}
				for k := range u.Object["data"].(map[string]any) {
					v, _, err := secretValue(u, k)
					if err != nil {
						t.Fatal(err)
					}
					got[k] = v
				}
			}
			if diff := cmp.Diff(tc.want.data, got); diff != "" {
				t.Errorf("%s\ncomposeConnectionSecret(...): -want data, +got data:\n%s", tc.reason, diff)
			}
		})
	}
}
