package function

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/crossplane/function-sdk-go/logging"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/response"
)

const testTunnelImage = "ghcr.io/redis-ha/redis-ha-tunnel:v0.0.0-test"

func newTestFunction() *Function {
	return New(logging.NewNopLogger(), WithPasswordGenerator(testPasswordGenerator), WithDefaultTunnelImage(testTunnelImage))
}

// runRequest builds a RunFunctionRequest observing xr and the given composed resources.
func runRequest(t testing.TB, xr *unstructured.Unstructured, observed map[string]*unstructured.Unstructured) *fnv1.RunFunctionRequest {
	t.Helper()
	req := &fnv1.RunFunctionRequest{
		Meta:     &fnv1.RequestMeta{Tag: "test"},
		Observed: &fnv1.State{Composite: &fnv1.Resource{Resource: resource.MustStructObject(xr)}},
	}
	if len(observed) > 0 {
		req.Observed.Resources = map[string]*fnv1.Resource{}
		for name, u := range observed {
			req.Observed.Resources[name] = &fnv1.Resource{Resource: resource.MustStructObject(u)}
		}
	}
	return req
}

// xrFromYAML parses an XR written in a test case.
func xrFromYAML(t testing.TB, y string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(y), &u.Object); err != nil {
		t.Fatalf("cannot parse test XR: %v", err)
	}
	return u
}

var goldenHeader = regexp.MustCompile(`^# (desired composite|composed resource "([^"]+)") \(ready: (true|false)\)$`)

// goldenState reads a golden file back into the desired state it records.
func goldenState(t testing.TB, name string) *fnv1.State {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	state := &fnv1.State{Resources: map[string]*fnv1.Resource{}}
	for _, doc := range strings.Split(string(b), "---\n")[1:] {
		header, body, _ := strings.Cut(doc, "\n")
		m := goldenHeader.FindStringSubmatch(header)
		if m == nil {
			t.Fatalf("golden %s: unexpected document header %q", name, header)
		}
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(body), &obj); err != nil {
			t.Fatal(err)
		}
		s, err := structpb.NewStruct(obj)
		if err != nil {
			t.Fatal(err)
		}
		ready := fnv1.Ready_READY_FALSE
		if m[3] == "true" {
			ready = fnv1.Ready_READY_TRUE
		}
		r := &fnv1.Resource{Resource: s, Ready: ready}
		if m[2] == "" {
			state.Composite = r
		} else {
			state.Resources[m[2]] = r
		}
	}
	return state
}

// goldenObjects are the composed objects of a golden file, as observed objects.
func goldenObjects(t testing.TB, name string) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for n, r := range goldenState(t, name).GetResources() {
		out[n] = &unstructured.Unstructured{Object: r.GetResource().AsMap()}
	}
	return out
}

// withReadyStatus gives observed workloads the status of a finished rollout.
func withReadyStatus(objs map[string]*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	for _, u := range objs {
		// Objects read back from YAML or protobuf hold numbers as float64.
		r, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "replicas")
		f, _ := r.(float64)
		replicas := int64(f)
		u.SetGeneration(2)
		switch u.GetKind() {
		case "StatefulSet":
			u.Object["status"] = map[string]any{
				"observedGeneration": int64(2), "replicas": replicas, "readyReplicas": replicas,
				"updatedReplicas": replicas, "currentReplicas": replicas,
				"currentRevision": "r-1", "updateRevision": "r-1",
			}
		case "Job":
			u.Object["status"] = map[string]any{
				"succeeded": int64(1), "conditions": []any{map[string]any{"type": "Complete", "status": "True"}},
			}
		case "Deployment":
			u.Object["status"] = map[string]any{
				"observedGeneration": int64(2), "replicas": replicas, "updatedReplicas": replicas,
				"readyReplicas": replicas, "availableReplicas": replicas,
				"conditions": []any{map[string]any{"type": "Available", "status": "True"}},
			}
		}
	}
	return objs
}

func cond(typ string, ok bool, reason, message string, target fnv1.Target) *fnv1.Condition {
	s := fnv1.Status_STATUS_CONDITION_FALSE
	if ok {
		s = fnv1.Status_STATUS_CONDITION_TRUE
	}
	return &fnv1.Condition{Type: typ, Status: s, Reason: reason, Message: &message, Target: target.Enum()}
}

func TestRunFunction(t *testing.T) {
	type args struct {
		req func(t *testing.T) *fnv1.RunFunctionRequest
	}
	type want struct {
		rsp func(t *testing.T) *fnv1.RunFunctionResponse
		err error
	}
	meta := &fnv1.ResponseMeta{Tag: "test", Ttl: durationpb.New(response.DefaultTTL)}
	fatal := func(msg string) func(t *testing.T) *fnv1.RunFunctionResponse {
		return func(*testing.T) *fnv1.RunFunctionResponse {
			return &fnv1.RunFunctionResponse{Meta: meta, Results: []*fnv1.Result{{
				Severity: fnv1.Severity_SEVERITY_FATAL, Message: msg, Target: fnv1.Target_TARGET_COMPOSITE.Enum(),
			}}}
		}
	}
	creating := func(target fnv1.Target) []*fnv1.Condition {
		return []*fnv1.Condition{
			cond(conditionRedisAvailable, false, reasonCreating, "The Redis StatefulSet has not been created yet", target),
			cond(conditionSentinelQuorum, false, reasonCreating, "The Sentinel StatefulSet has not been created yet", target),
			cond(conditionTunnelAvailable, false, reasonCreating, "The tunnel Deployment has not been created yet", target),
		}
	}

	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"FirstRunComposesEverythingNotReady": {
			reason: "A new RedisHA gets the whole composed set, nothing ready yet, status endpoints and Creating conditions.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, readExample(t, "redisha.yaml"), nil)
			}},
			want: want{rsp: func(t *testing.T) *fnv1.RunFunctionResponse {
				return &fnv1.RunFunctionResponse{Meta: meta, Desired: goldenState(t, "redisha"), Conditions: creating(fnv1.Target_TARGET_COMPOSITE)}
			}},
		},
		"AllObservedReady": {
			reason: "When every workload has finished its rollout, every composed resource and the XR are ready and the conditions say so.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, readExample(t, "redisha.yaml"), withReadyStatus(goldenObjects(t, "redisha")))
			}},
			want: want{rsp: func(t *testing.T) *fnv1.RunFunctionResponse {
				d := goldenState(t, "redisha")
				d.Composite.Ready = fnv1.Ready_READY_TRUE
				for _, r := range d.Resources {
					r.Ready = fnv1.Ready_READY_TRUE
				}
				st := d.Composite.Resource.Fields["status"].GetStructValue().Fields
				st["redis"] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"replicas": structpb.NewNumberValue(3), "ready": structpb.NewNumberValue(3)}})
				st["sentinel"] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"replicas": structpb.NewNumberValue(3), "ready": structpb.NewNumberValue(3)}})
				st["tunnel"] = structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"replicas": structpb.NewNumberValue(2), "ready": structpb.NewNumberValue(2)}})
				c := fnv1.Target_TARGET_COMPOSITE
				return &fnv1.RunFunctionResponse{Meta: meta, Desired: d, Conditions: []*fnv1.Condition{
					cond(conditionRedisAvailable, true, reasonAvailable, "3 of 3 Redis pods ready", c),
					cond(conditionSentinelQuorum, true, reasonAvailable, "3 of 3 Sentinels ready; a failover needs 2 (quorum 2, majority 2)", c),
					cond(conditionTunnelAvailable, true, reasonAvailable, "2 of 2 tunnel pods available at cache-tunnel.default.svc:6379", c),
				}}
			}},
		},
		"ClusterAllObservedReady": {
			reason: "A cluster whose shards are rolled out and whose cluster Job is complete is ready, with every shard counted in the status.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, readExample(t, "redisha-cluster.yaml"), withReadyStatus(goldenObjects(t, "redisha-cluster")))
			}},
			want: want{rsp: func(t *testing.T) *fnv1.RunFunctionResponse {
				d := goldenState(t, "redisha-cluster")
				d.Composite.Ready = fnv1.Ready_READY_TRUE
				var job string
				for name, r := range d.Resources {
					r.Ready = fnv1.Ready_READY_TRUE
					if strings.HasPrefix(name, clusterJobPrefix) {
						job = r.GetResource().GetFields()["metadata"].GetStructValue().GetFields()["name"].GetStringValue()
					}
				}
				st := d.Composite.Resource.Fields["status"].GetStructValue().Fields
				st["redis"].GetStructValue().Fields["ready"] = structpb.NewNumberValue(6)
				st["tunnel"].GetStructValue().Fields["ready"] = structpb.NewNumberValue(2)
				cl := st["cluster"].GetStructValue().Fields
				cl["readyShards"] = structpb.NewNumberValue(3)
				for _, sh := range cl["shards"].GetListValue().GetValues() {
					sh.GetStructValue().Fields["ready"] = structpb.NewNumberValue(2)
				}
				c := fnv1.Target_TARGET_COMPOSITE
				return &fnv1.RunFunctionResponse{Meta: meta, Desired: d, Conditions: []*fnv1.Condition{
					cond(conditionRedisAvailable, true, reasonAvailable, "3 of 3 shards have every pod ready (6 of 6 pods)", c),
					cond(conditionClusterTopology, true, reasonApplied, "The cluster has 3 shards of 2 pods (Job "+job+" complete)", c),
					cond(conditionTunnelAvailable, true, reasonAvailable, "2 of 2 tunnel pods available at carts-tunnel.default.svc:6379", c),
				}}
			}},
		},
		"ClaimGetsConnectionDetailsAndClaimConditions": {
			reason: "A legacy XRedisHA composes into its claim's namespace under the claim's name, returns connection details, and targets conditions at the claim too.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, claimToXR(readExample(t, "redisha-claim.yaml")), nil)
			}},
			want: want{rsp: func(t *testing.T) *fnv1.RunFunctionResponse {
				d := goldenState(t, "redisha-claim")
				d.Composite.ConnectionDetails = map[string][]byte{
					"host": []byte("sessions-tunnel.default.svc"), "port": []byte("6379"), "password": []byte(testPassword),
					"url":          []byte("redis://:" + testPassword + "@sessions-tunnel.default.svc:6379"),
					"readOnlyHost": []byte("sessions-tunnel-ro.default.svc"), "readOnlyPort": []byte("6380"),
					"readOnlyUrl": []byte("redis://:" + testPassword + "@sessions-tunnel-ro.default.svc:6380"),
				}
				return &fnv1.RunFunctionResponse{Meta: meta, Desired: d, Conditions: creating(fnv1.Target_TARGET_COMPOSITE_AND_CLAIM)}
			}},
		},
		"ExistingSecretIsRequired": {
			reason: "With spec.auth.existingSecret the function asks Crossplane for the Secret; until it has it, it composes no connection Secret and warns once Crossplane says it does not exist.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				xr := readExample(t, "redisha-full.yaml")
				req := runRequest(t, xr, nil)
				req.RequiredResources = map[string]*fnv1.Resources{requiredExistingSecret: {}}
				return req
			}},
			want: want{rsp: func(t *testing.T) *fnv1.RunFunctionResponse {
				d := goldenState(t, "redisha-full")
				delete(d.Resources, string(resourceConnectionSecret))
				// The auth checksum is unknown until the Secret is read.
				for _, n := range []string{"redis-statefulset", "sentinel-statefulset", "tunnel-deployment"} {
					meta := d.Resources[n].Resource.Fields["spec"].GetStructValue().Fields["template"].GetStructValue().Fields["metadata"].GetStructValue()
					ann := meta.Fields["annotations"].GetStructValue()
					delete(ann.Fields, annotationAuthChecksum)
					if len(ann.Fields) == 0 {
						delete(meta.Fields, "annotations")
					}
				}
				ns := "shop"
				return &fnv1.RunFunctionResponse{
					Meta:    meta,
					Desired: d,
					Results: []*fnv1.Result{{
						Severity: fnv1.Severity_SEVERITY_WARNING,
						Message:  `spec.auth.existingSecret: Secret "orders-redis-password" not found in namespace "shop": create it with key "password"; until then the pods cannot start and the connection Secret is not updated`,
						Target:   fnv1.Target_TARGET_COMPOSITE.Enum(),
					}},
					Requirements: &fnv1.Requirements{Resources: map[string]*fnv1.ResourceSelector{requiredExistingSecret: {
						ApiVersion: "v1", Kind: "Secret", Match: &fnv1.ResourceSelector_MatchName{MatchName: "orders-redis-password"}, Namespace: &ns,
					}}},
					Conditions: creating(fnv1.Target_TARGET_COMPOSITE),
				}
			}},
		},
		"InvalidSpecIsFatal": {
			reason: "A spec v1alpha1 rejects (here quorum above the defaulted replica count) is a Fatal result naming the field and the fix.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, xrFromYAML(t, `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: cache, namespace: default}, spec: {sentinel: {quorum: 4}}}`), nil)
			}},
			want: want{rsp: fatal("invalid RedisHA default/cache: spec.sentinel.quorum: Invalid value: 4: spec.sentinel.quorum must not exceed spec.sentinel.replicas, or no failover can ever be agreed: lower quorum or remove it to use the majority")},
		},
		"LegacyXRWithoutClaimIsFatal": {
			reason: "An XRedisHA created without a claim has no namespace to compose into.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, xrFromYAML(t, `{apiVersion: redisha.io/v1alpha1, kind: XRedisHA, metadata: {name: lonely}, spec: {}}`), nil)
			}},
			want: want{rsp: fatal(`invalid XRedisHA lonely: cluster-scoped XRedisHA "lonely" has no crossplane.io/claim-namespace and crossplane.io/claim-name labels: create it through a RedisHAClaim, or use the namespaced RedisHA`)},
		},
		"SpecNotAnObjectIsFatal": {
			reason: "A spec that is not an object cannot be decoded.",
			args: args{req: func(t *testing.T) *fnv1.RunFunctionRequest {
				return runRequest(t, xrFromYAML(t, `{apiVersion: redisha.io/v1alpha1, kind: RedisHA, metadata: {name: cache, namespace: default}, spec: "small"}`), nil)
			}},
			want: want{rsp: fatal(`cannot read RedisHA "cache": cannot decode spec: spec is not an object`)},
		},
	}

	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			rsp, err := newTestFunction().RunFunction(context.Background(), tc.args.req(t))
			if diff := cmp.Diff(tc.want.rsp(t), rsp, protocmp.Transform()); diff != "" {
				t.Errorf("%s\nRunFunction(...): -want rsp, +got rsp:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.want.err, err, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("%s\nRunFunction(...): -want err, +got err:\n%s", tc.reason, diff)
			}
		})
	}
}
