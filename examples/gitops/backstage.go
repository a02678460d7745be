package gitops

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

// OpenAPIDefinitionPath is the generated OpenAPI document the Backstage API entity carries
// (catalog-info.yaml references it with $text), relative to the repository root.
const OpenAPIDefinitionPath = "examples/backstage/redisha.openapi.yaml"

// XRD files the API definition is built from, relative to the repository root.
const (
	NamespacedXRDPath = "package/configuration/xrd-redisha.yaml"
	LegacyXRDPath     = "package/configuration/xrd-xredisha.yaml"
)

// apiKind is one Kubernetes kind the API definition describes.
type apiKind struct {
	kind, plural string
	schema       map[string]any
}

// OpenAPIDefinition renders an OpenAPI 3.0 document of the redisha.io/v1alpha1 API as the
// Kubernetes API server serves it: the namespaced RedisHA and the RedisHAClaim, each with its
// schema copied from the generated XRD (spec and status, CEL rules and defaults included),
// and the REST paths an application team (or Backstage's API explorer) would call.
func OpenAPIDefinition(root string) ([]byte, error) {
	var kinds []apiKind
	for _, x := range []struct{ path, namesField string }{
		{NamespacedXRDPath, "names"},
		{LegacyXRDPath, "claimNames"},
	} {
		k, err := readXRDKind(filepath.Join(root, x.path), x.namesField)
		if err != nil {
			return nil, err
		}
		kinds = append(kinds, k)
	}

	const group, version = "redisha.io", "v1alpha1"
	schemas := map[string]any{}
	paths := map[string]any{}
	for _, k := range kinds {
		ref := map[string]any{"$ref": "#/components/schemas/" + k.kind}
		one := map[string]any{"description": "The " + k.kind, "content": map[string]any{"application/json": map[string]any{"schema": ref}}}
		body := map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": ref}}}
		s := map[string]any{
			"type":        "object",
			"description": k.schema["description"],
			"required":    []any{"apiVersion", "kind", "metadata"},
			"properties": map[string]any{
				"apiVersion": map[string]any{"type": "string", "enum": []any{group + "/" + version}},
				"kind":       map[string]any{"type": "string", "enum": []any{k.kind}},
				"metadata":   map[string]any{"$ref": "#/components/schemas/ObjectMeta"},
				"spec":       k.schema["properties"].(map[string]any)["spec"],
				"status":     k.schema["properties"].(map[string]any)["status"],
			},
		}
		schemas[k.kind] = s
		collection := fmt.Sprintf("/apis/%s/%s/namespaces/{namespace}/%s", group, version, k.plural)
		paths[collection] = map[string]any{
			"parameters": []any{map[string]any{"$ref": "#/components/parameters/namespace"}},
			"get": map[string]any{
				"operationId": "list" + k.kind,
				"summary":     "List the " + k.kind + "s of a namespace",
				"responses":   map[string]any{"200": map[string]any{"description": "A " + k.kind + "List (items are " + k.kind + ")"}},
			},
			"post": map[string]any{
				"operationId": "create" + k.kind,
				"summary":     "Create a " + k.kind,
				"requestBody": body,
				"responses":   map[string]any{"201": one},
			},
		}
		paths[collection+"/{name}"] = map[string]any{
			"parameters": []any{
				map[string]any{"$ref": "#/components/parameters/namespace"},
				map[string]any{"$ref": "#/components/parameters/name"},
			},
			"get":    map[string]any{"operationId": "read" + k.kind, "summary": "Read a " + k.kind + " and its status", "responses": map[string]any{"200": one}},
			"put":    map[string]any{"operationId": "replace" + k.kind, "summary": "Replace a " + k.kind, "requestBody": body, "responses": map[string]any{"200": one}},
			"delete": map[string]any{"operationId": "delete" + k.kind, "summary": "Delete a " + k.kind + " and everything composed for it", "responses": map[string]any{"200": map[string]any{"description": "Deletion started"}}},
		}
	}
	schemas["ObjectMeta"] = map[string]any{
		"type":        "object",
		"description": "Kubernetes object metadata; only the fields a RedisHA manifest sets are listed.",
		"required":    []any{"name"},
		"properties": map[string]any{
			"name":        map[string]any{"type": "string", "maxLength": 63, "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
			"namespace":   map[string]any{"type": "string"},
			"labels":      map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
			"annotations": map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}},
		},
	}
	doc := map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":   "redis-ha " + group + "/" + version,
			"version": version,
			"description": "Highly available Redis as a Crossplane API. RedisHA is the namespaced composite resource; " +
				"RedisHAClaim is the claim of the legacy cluster-scoped XRedisHA. Both take the same spec.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas,
			"parameters": map[string]any{
				"namespace": map[string]any{"name": "namespace", "in": "path", "required": true, "schema": map[string]any{"type": "string"}},
				"name":      map[string]any{"name": "name", "in": "path", "required": true, "schema": map[string]any{"type": "string"}},
			},
		},
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding the OpenAPI document: %w", err)
	}
	header := "# Code generated by \"make examples-generate\" (examples/gitops/cmd/examples-gen) from\n" +
		"# " + NamespacedXRDPath + " and " + LegacyXRDPath + ". DO NOT EDIT.\n"
	return append([]byte(header), out...), nil
}

// readXRDKind reads the kind, plural and schema an XRD defines under namesField ("names" for
// the XR, "claimNames" for the claim).
func readXRDKind(path, namesField string) (apiKind, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return apiKind{}, fmt.Errorf("reading XRD: %w", err)
	}
	var xrd struct {
		Spec struct {
			Names      map[string]any `json:"names"`
			ClaimNames map[string]any `json:"claimNames"`
			Versions   []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &xrd); err != nil {
		return apiKind{}, fmt.Errorf("decoding XRD %s: %w", path, err)
	}
	names := xrd.Spec.Names
	if namesField == "claimNames" {
		names = xrd.Spec.ClaimNames
	}
	kind, _ := names["kind"].(string)
	plural, _ := names["plural"].(string)
	if kind == "" || plural == "" {
		return apiKind{}, fmt.Errorf("XRD %s has no spec.%s.kind and plural", path, namesField)
	}
	if len(xrd.Spec.Versions) != 1 || xrd.Spec.Versions[0].Name != "v1alpha1" {
		return apiKind{}, fmt.Errorf("XRD %s must serve exactly one version, v1alpha1", path)
	}
	s := xrd.Spec.Versions[0].Schema.OpenAPIV3Schema
	props, _ := s["properties"].(map[string]any)
	if props["spec"] == nil || props["status"] == nil {
		return apiKind{}, fmt.Errorf("XRD %s schema has no spec and status properties", path)
	}
	return apiKind{kind: kind, plural: plural, schema: s}, nil
}
