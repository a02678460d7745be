package gitops

import (
	"encoding/json"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/kube-openapi/pkg/spec3"
	"sigs.k8s.io/yaml"

	"github.com/redis-ha/redis-ha/apis/v1alpha1"
)

const (
	backstageDir = "examples/backstage"
	templateDir  = backstageDir + "/template"
)

// xrdSpecSchema reads the XRD's schema property (spec or status) independently of the
// generator, for cross-checks.
func xrdSchemaProperty(t *testing.T, xrdPath, property string) map[string]any {
	t.Helper()
	xrd := readOne(t, xrdPath, "CompositeResourceDefinition")
	versions, _, _ := unstructured.NestedSlice(xrd.Object, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("%s: want one version", xrdPath)
	}
	s, ok, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema", "properties", property)
	if !ok {
		t.Fatalf("%s: no %s schema", xrdPath, property)
	}
	return s
}

func TestCatalogInfo(t *testing.T) {
	entities := map[string]*unstructured.Unstructured{}
	for _, e := range readManifests(t, backstageDir+"/catalog-info.yaml") {
		if e.GetAPIVersion() != "backstage.io/v1alpha1" {
			t.Errorf("%s %s: apiVersion %s, want backstage.io/v1alpha1", e.GetKind(), e.GetName(), e.GetAPIVersion())
		}
		entities[e.GetKind()+":"+e.GetName()] = e
	}
	system, api := entities["System:redis-ha"], entities["API:redisha"]
	function, tunnel := entities["Component:function-redis-ha"], entities["Component:redis-ha-tunnel"]
	if system == nil || api == nil || function == nil || tunnel == nil {
		t.Fatalf("catalog-info.yaml must define System redis-ha, API redisha and Components function-redis-ha and redis-ha-tunnel; has %v", slices.Sorted(maps.Keys(entities)))
	}
	for _, e := range []*unstructured.Unstructured{api, function, tunnel} {
		if got := str(t, e, "spec", "system"); got != system.GetName() {
			t.Errorf("%s %s is in system %q, want %q", e.GetKind(), e.GetName(), got, system.GetName())
		}
		str(t, e, "spec", "owner")
		str(t, e, "spec", "lifecycle")
	}
	if got := str(t, api, "spec", "type"); got != "openapi" {
		t.Errorf("API type %q, want openapi", got)
	}
	if provides := strs(t, function, "spec", "providesApis"); !slices.Contains(provides, api.GetName()) {
		t.Errorf("function-redis-ha provides %v, want %s", provides, api.GetName())
	}
	if sel := tunnel.GetAnnotations()["backstage.io/kubernetes-label-selector"]; sel != "app.kubernetes.io/name=redis-ha,app.kubernetes.io/component=tunnel" {
		t.Errorf("redis-ha-tunnel kubernetes-label-selector %q does not select the tunnel pods the function labels", sel)
	}
	// Backstage's placeholder processor substitutes the file's text for $text.
	ref := str(t, api, "spec", "definition", "$text")
	if got := path.Join(backstageDir, ref); got != OpenAPIDefinitionPath {
		t.Errorf("the API definition reads %s, the generated definition is %s", got, OpenAPIDefinitionPath)
	}
}

func TestOpenAPIDefinitionCarriesTheXRDSchemas(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, OpenAPIDefinitionPath))
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSONStrict(b)
	if err != nil {
		t.Fatal(err)
	}
	// A well-formed OpenAPI 3 document, as Kubernetes' own OpenAPI library reads it.
	doc := &spec3.OpenAPI{}
	if err := json.Unmarshal(j, doc); err != nil {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	if !strings.HasPrefix(doc.Version, "3.") || doc.Info == nil || doc.Paths == nil || len(doc.Paths.Paths) == 0 {
		t.Fatalf("OpenAPI document lacks openapi 3.x, info or paths")
	}
	var raw map[string]any
	if err := json.Unmarshal(j, &raw); err != nil {
		t.Fatal(err)
	}
	// Every $ref resolves inside the document.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				if !resolvesJSONPointer(raw, ref) {
					t.Errorf("$ref %s does not resolve", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(raw)

	// The schemas are the XRDs' own, field for field.
	for kind, xrdPath := range map[string]string{"RedisHA": NamespacedXRDPath, "RedisHAClaim": LegacyXRDPath} {
		for _, prop := range []string{"spec", "status"} {
			got, _, _ := unstructured.NestedMap(raw, "components", "schemas", kind, "properties", prop)
			if diff := cmp.Diff(viaJSON(xrdSchemaProperty(t, xrdPath, prop)), viaJSON(got)); diff != "" {
				t.Errorf("%s %s schema differs from %s (-xrd +definition):\n%s", kind, prop, xrdPath, diff)
			}
		}
	}
}

// viaJSON round-trips v through encoding/json so numbers compare equal whichever decoder
// produced them (int64 from the Kubernetes decoders, float64 from encoding/json).
func viaJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return err.Error()
	}
	return out
}

// resolvesJSONPointer reports whether a local "#/a/b" reference names a value in doc.
func resolvesJSONPointer(doc map[string]any, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// scaffolderTemplate is the part of the Scaffolder template the tests read.
type scaffolderTemplate struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Spec       struct {
		Parameters []struct {
			Required   []string                  `json:"required"`
			Properties map[string]map[string]any `json:"properties"`
		} `json:"parameters"`
		Steps []struct {
			ID     string         `json:"id"`
			Action string         `json:"action"`
			Input  map[string]any `json:"input"`
		} `json:"steps"`
		Output map[string]any `json:"output"`
	} `json:"spec"`
}

func readTemplate(t *testing.T) scaffolderTemplate {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, templateDir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tpl scaffolderTemplate
	if err := yaml.Unmarshal(b, &tpl); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	if tpl.APIVersion != "scaffolder.backstage.io/v1beta3" || tpl.Kind != "Template" {
		t.Fatalf("template.yaml is %s %s, want scaffolder.backstage.io/v1beta3 Template", tpl.APIVersion, tpl.Kind)
	}
	return tpl
}

// formSchema merges the template's parameter pages into one JSON schema, the form Backstage
// validates answers against, and compiles it with the same OpenAPI validator the API server
// uses (the keywords the form uses - type, enum, pattern, bounds, required - mean the same).
func formSchema(t *testing.T, tpl scaffolderTemplate) (map[string]map[string]any, apiservervalidation.SchemaValidator) {
	t.Helper()
	props := map[string]map[string]any{}
	var required []string
	for _, page := range tpl.Spec.Parameters {
		required = append(required, page.Required...)
		for name, p := range page.Properties {
			if _, dup := props[name]; dup {
				t.Fatalf("parameter %s is asked twice", name)
			}
			props[name] = p
		}
	}
	schema := map[string]any{"type": "object", "required": required, "properties": map[string]any{}}
	for name, p := range props {
		clean := map[string]any{}
		for k, v := range p {
			if !strings.HasPrefix(k, "ui:") {
				clean[k] = v
			}
		}
		schema["properties"].(map[string]any)[name] = clean
	}
	b, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	v1 := &extv1.JSONSchemaProps{}
	if err := json.Unmarshal(b, v1); err != nil {
		t.Fatal(err)
	}
	internal := &apiextensions.JSONSchemaProps{}
	if err := extv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v1, internal, nil); err != nil {
		t.Fatal(err)
	}
	validator, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		t.Fatalf("form schema: %v", err)
	}
	return props, validator
}

func TestTemplateFormMatchesTheXRD(t *testing.T) {
	props, _ := formSchema(t, readTemplate(t))
	spec := xrdSchemaProperty(t, NamespacedXRDPath, "spec")
	field := func(p ...string) map[string]any {
		var fields []string
		for _, f := range p {
			fields = append(fields, "properties", f)
		}
		m, ok, _ := unstructured.NestedMap(spec, fields...)
		if !ok {
			t.Fatalf("XRD has no spec.%s", strings.Join(p, "."))
		}
		return m
	}
	// The form makes sentinel-mode RedisHAs. Where the schema leaves a default to the
	// composition function, because it depends on spec.mode, the form's default is sentinel
	// mode's: v1alpha1's Default.
	sentinelMode := v1alpha1.RedisHASpec{}
	sentinelMode.Default()
	withDefault := func(m map[string]any, functionDefault any) map[string]any {
		if _, ok := m["default"]; !ok {
			m = maps.Clone(m)
			m["default"] = functionDefault
		}
		return m
	}
	xrdSizes := field("size")["enum"].([]any)
	wantSizes := slices.DeleteFunc(slices.Clone(xrdSizes), func(v any) bool { return v == "custom" })
	cases := map[string]struct {
		reason string
		form   map[string]any
		want   map[string]any
	}{
		"Size": {
			reason: "the form offers the XRD's presets (custom needs explicit resources, which the form does not ask for)",
			form:   map[string]any{"enum": props["size"]["enum"], "default": props["size"]["default"]},
			want:   map[string]any{"enum": wantSizes, "default": field("size")["default"]},
		},
		"Replicas": {
			reason: "the form's bounds and default are the XRD's",
			form:   map[string]any{"minimum": props["replicas"]["minimum"], "maximum": props["replicas"]["maximum"], "default": props["replicas"]["default"]},
			want: map[string]any{"minimum": field("redis", "replicas")["minimum"], "maximum": field("redis", "replicas")["maximum"],
				"default": withDefault(field("redis", "replicas"), sentinelMode.Redis.Replicas)["default"]},
		},
		"Persistence": {
			reason: "the form's modes and default are the XRD's",
			form:   map[string]any{"enum": props["persistence"]["enum"], "default": props["persistence"]["default"]},
			want:   map[string]any{"enum": field("redis", "persistence", "mode")["enum"], "default": field("redis", "persistence", "mode")["default"]},
		},
		"ReadOnlyEndpoint": {
			reason: "same default as the XRD",
			form:   map[string]any{"default": props["readOnlyEndpoint"]["default"]},
			want:   map[string]any{"default": withDefault(field("tunnel", "readOnlyEndpoint"), *sentinelMode.Tunnel.ReadOnlyEndpoint)["default"]},
		},
		"NetworkPolicy": {
			reason: "same default as the XRD",
			form:   map[string]any{"default": props["networkPolicy"]["default"]},
			want:   map[string]any{"default": field("networkPolicy", "enabled")["default"]},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(viaJSON(tc.want), viaJSON(tc.form)); diff != "" {
				t.Errorf("%s (-xrd +form):\n%s", tc.reason, diff)
			}
		})
	}
}

// withFormDefaults returns answers with every unanswered parameter set to its default, as
// the Backstage form fills them in.
func withFormDefaults(props map[string]map[string]any, answers map[string]any) map[string]any {
	out := map[string]any{}
	for name, p := range props {
		if d, ok := p["default"]; ok {
			out[name] = d
		}
	}
	for k, v := range answers {
		out[k] = v
	}
	return out
}

// renderedFile is one file the fetch:template step writes.
type renderedFile struct {
	path    string
	content string
}

// runFetchTemplate does what the template's fetch:template step does with answers: evaluate
// the step's input against the parameters, then render every skeleton file's path and
// content with the values, under the target path.
func runFetchTemplate(t *testing.T, tpl scaffolderTemplate, answers map[string]any) ([]renderedFile, error) {
	t.Helper()
	idx := slices.IndexFunc(tpl.Spec.Steps, func(s struct {
		ID     string         `json:"id"`
		Action string         `json:"action"`
		Input  map[string]any `json:"input"`
	}) bool {
		return s.Action == "fetch:template"
	})
	if idx < 0 {
		t.Fatal("template has no fetch:template step")
	}
	input := tpl.Spec.Steps[idx].Input
	scope := map[string]any{"parameters": answers}
	values := map[string]any{}
	for k, v := range input["values"].(map[string]any) {
		s, ok := v.(string)
		if !ok {
			values[k] = v
			continue
		}
		ev, err := EvaluateNunjucks(s, scope)
		if err != nil {
			return nil, err
		}
		values[k] = ev
	}
	target, err := RenderNunjucks(input["targetPath"].(string), scope)
	if err != nil {
		return nil, err
	}
	skeleton := filepath.Join(repoRoot, templateDir, input["url"].(string))
	var files []renderedFile
	valueScope := map[string]any{"values": values}
	err = filepath.WalkDir(skeleton, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(skeleton, p)
		name, err := RenderNunjucks(filepath.ToSlash(rel), valueScope)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		content, err := RenderNunjucks(string(b), valueScope)
		if err != nil {
			return err
		}
		files = append(files, renderedFile{path: path.Join(target, name), content: content})
		return nil
	})
	return files, err
}

func TestTemplateWritesAValidRedisHA(t *testing.T) {
	tpl := readTemplate(t)
	props, form := formSchema(t, tpl)
	validators := redisHAValidators(t)
	type want struct {
		path string
		spec map[string]any // selected fields of the stored spec, after API server defaulting
	}
	cases := map[string]struct {
		reason  string
		answers map[string]any
		want    want
	}{
		"Defaults": {
			reason:  "only the required answers; the form fills in its defaults",
			answers: map[string]any{"name": "cache", "namespace": "team-a", "size": "small", "repoUrl": "github.com?owner=acme&repo=gitops"},
			want: want{path: "teams/team-a/redis/cache.yaml", spec: map[string]any{
				"size": "small", "replicas": int64(3), "mode": "aof", "readOnlyEndpoint": true, "networkPolicy": true, "haMode": "sentinel",
			}},
		},
		"EveryOption": {
			reason: "every option away from its default",
			answers: map[string]any{"name": "sessions", "namespace": "payments", "size": "large", "replicas": int64(5),
				"persistence": "none", "readOnlyEndpoint": false, "networkPolicy": false, "repoUrl": "github.com?owner=acme&repo=gitops"},
			want: want{path: "teams/payments/redis/sessions.yaml", spec: map[string]any{
				"size": "large", "replicas": int64(5), "mode": "none", "readOnlyEndpoint": false, "networkPolicy": false, "haMode": "sentinel",
			}},
		},
		"NumericNamespace": {
			reason:  "a namespace YAML would read as a number stays a string (the skeleton uses | dump)",
			answers: map[string]any{"name": "c", "namespace": "2024", "size": "medium", "persistence": "rdb", "repoUrl": "github.com?owner=acme&repo=gitops"},
			want: want{path: "teams/2024/redis/c.yaml", spec: map[string]any{
				"size": "medium", "replicas": int64(3), "mode": "rdb", "readOnlyEndpoint": true, "networkPolicy": true, "haMode": "sentinel",
			}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			answers := withFormDefaults(props, tc.answers)
			if errs := apiservervalidation.ValidateCustomResource(nil, answers, form); len(errs) > 0 {
				t.Fatalf("%s: the form rejects the answers: %v", tc.reason, errs.ToAggregate())
			}
			files, err := runFetchTemplate(t, tpl, answers)
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if len(files) != 1 || files[0].path != tc.want.path {
				t.Fatalf("%s: wrote %v, want one file %s", tc.reason, files, tc.want.path)
			}
			j, err := yaml.YAMLToJSONStrict([]byte(files[0].content))
			if err != nil {
				t.Fatalf("%s: rendered manifest is not YAML: %v\n%s", tc.reason, err, files[0].content)
			}
			obj := map[string]any{}
			if err := json.Unmarshal(j, &obj); err != nil {
				t.Fatal(err)
			}
			if obj["kind"] != "RedisHA" {
				t.Fatalf("%s: wrote a %v, want a RedisHA", tc.reason, obj["kind"])
			}
			stored, errs := validateRedisHAObject(t, validators, obj)
			if len(errs) > 0 {
				t.Fatalf("%s: the XRD schema rejects the manifest: %v\n%s", tc.reason, errs.ToAggregate(), files[0].content)
			}
			u := &unstructured.Unstructured{Object: stored}
			if u.GetName() != answers["name"] || u.GetNamespace() != answers["namespace"] {
				t.Errorf("%s: wrote %s/%s, want %s/%s", tc.reason, u.GetNamespace(), u.GetName(), answers["namespace"], answers["name"])
			}
			got := map[string]any{}
			for key, fields := range map[string][]string{
				"size": {"spec", "size"}, "replicas": {"spec", "redis", "replicas"}, "mode": {"spec", "redis", "persistence", "mode"},
				"readOnlyEndpoint": {"spec", "tunnel", "readOnlyEndpoint"}, "networkPolicy": {"spec", "networkPolicy", "enabled"},
				// The Sentinel settings are not stored: a schema default cannot depend on
				// spec.mode, so the composition function applies them (v1alpha1 Default).
				"haMode": {"spec", "mode"},
			} {
				v, _, _ := unstructured.NestedFieldNoCopy(stored, fields...)
				got[key] = v
			}
			if diff := cmp.Diff(tc.want.spec, got); diff != "" {
				t.Errorf("%s: stored spec (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

// TestTemplatePipelineRejectsBadAnswers proves the checks above can fail: answers outside
// the form are rejected by the form, and the manifest they would produce by the XRD.
func TestTemplatePipelineRejectsBadAnswers(t *testing.T) {
	tpl := readTemplate(t)
	props, form := formSchema(t, tpl)
	validators := redisHAValidators(t)
	cases := map[string]struct {
		reason   string
		answers  map[string]any
		wantForm string
		wantXRD  string
	}{
		"TooManyReplicas": {
			reason:   "replicas above the XRD maximum",
			answers:  map[string]any{"name": "cache", "namespace": "a", "size": "small", "replicas": int64(10), "repoUrl": "x"},
			wantForm: "replicas",
			wantXRD:  "spec.redis.replicas",
		},
		"CustomSize": {
			reason:   "size custom without resources",
			answers:  map[string]any{"name": "cache", "namespace": "a", "size": "custom", "repoUrl": "x"},
			wantForm: "size",
			wantXRD:  "spec.size: custom needs spec.resources",
		},
		"UnknownPersistence": {
			reason:   "a persistence mode the XRD does not know",
			answers:  map[string]any{"name": "cache", "namespace": "a", "size": "small", "persistence": "fsync", "repoUrl": "x"},
			wantForm: "persistence",
			wantXRD:  "spec.redis.persistence.mode",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			answers := withFormDefaults(props, tc.answers)
			errs := apiservervalidation.ValidateCustomResource(nil, answers, form)
			if errs.ToAggregate() == nil || !strings.Contains(errs.ToAggregate().Error(), tc.wantForm) {
				t.Errorf("%s: form errors %v, want one about %q", tc.reason, errs, tc.wantForm)
			}
			files, err := runFetchTemplate(t, tpl, answers)
			if err != nil {
				t.Fatal(err)
			}
			obj := map[string]any{}
			if err := yaml.Unmarshal([]byte(files[0].content), &obj); err != nil {
				t.Fatal(err)
			}
			_, xerrs := validateRedisHAObject(t, validators, obj)
			if xerrs.ToAggregate() == nil || !strings.Contains(xerrs.ToAggregate().Error(), tc.wantXRD) {
				t.Errorf("%s: XRD errors %v, want one containing %q", tc.reason, xerrs, tc.wantXRD)
			}
		})
	}
}

// TestEveryTemplateExpressionResolves renders every ${{ }} in the template (step inputs and
// output) with sample answers and the outputs the steps' actions produce, so a typo in a
// parameter name or unsupported syntax anywhere in the template fails here.
func TestEveryTemplateExpressionResolves(t *testing.T) {
	tpl := readTemplate(t)
	props, _ := formSchema(t, tpl)
	scope := map[string]any{
		"parameters": withFormDefaults(props, map[string]any{"name": "cache", "namespace": "team-a", "repoUrl": "github.com?owner=acme&repo=gitops"}),
		"steps":      map[string]any{"publish": map[string]any{"output": map[string]any{"remoteUrl": "https://github.com/acme/gitops/pull/1", "pullRequestNumber": int64(1)}}},
	}
	expr := regexp.MustCompile(`\$\{\{`)
	count := 0
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case string:
			count += len(expr.FindAllString(x, -1))
			if _, err := EvaluateNunjucks(x, scope); err != nil {
				t.Errorf("%s: %v", where, err)
			}
		case map[string]any:
			for k, e := range x {
				walk(where+"."+k, e)
			}
		case []any:
			for i, e := range x {
				walk(where+"["+strconv.Itoa(i)+"]", e)
			}
		}
	}
	for _, s := range tpl.Spec.Steps {
		walk("steps."+s.ID, s.Input)
	}
	walk("output", tpl.Spec.Output)
	if count < 10 {
		t.Errorf("found only %d expressions in the template; the walk is not reading it", count)
	}
	for _, s := range tpl.Spec.Steps {
		if s.Action == "publish:github:pull-request" {
			return
		}
	}
	t.Error("the template must publish the manifest (publish:github:pull-request)")
}
