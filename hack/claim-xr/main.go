// Command claim-xr writes the composite resource (XR) that Crossplane would create for a claim,
// so `crossplane composition render`, which takes XRs only, can render claim examples too
// (hack/render.sh uses it for examples/redisha-claim.yaml):
//
//	go run ./hack/claim-xr --claim examples/redisha-claim.yaml \
//	    --xrd package/configuration/xrd-xredisha.yaml > claim-xr.yaml
//
// Like Crossplane's claim controller it keeps the claim's apiVersion and spec, switches the
// kind to the XRD's spec.names.kind, drops the namespace (the XR is cluster scoped), labels the
// XR with crossplane.io/claim-name and crossplane.io/claim-namespace, and sets spec.claimRef.
// Crossplane names the XR <claim>-<random suffix>; here the suffix is a fixed "-claim" so
// rendered output is stable.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"sigs.k8s.io/yaml"
)

// The labels Crossplane puts on an XR created for a claim.
const (
	labelClaimName      = "crossplane.io/claim-name"
	labelClaimNamespace = "crossplane.io/claim-namespace"
	labelComposite      = "crossplane.io/composite"
)

// claimOnlySpecFields are claim spec fields that Crossplane does not copy to the XR.
var claimOnlySpecFields = []string{"compositeDeletePolicy", "resourceRef", "writeConnectionSecretToRef"}

// xrFor returns the XR for claim as Crossplane would create it for the claim kind of xrd.
func xrFor(claimDoc, xrdDoc []byte) ([]byte, error) {
	var xrd struct {
		Kind string `json:"kind"`
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			ClaimNames *struct {
				Kind string `json:"kind"`
			} `json:"claimNames"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(xrdDoc, &xrd); err != nil {
		return nil, fmt.Errorf("--xrd: decoding: %w", err)
	}
	if xrd.Kind != "CompositeResourceDefinition" || xrd.Spec.ClaimNames == nil || xrd.Spec.Names.Kind == "" {
		return nil, errors.New("--xrd: not a CompositeResourceDefinition with spec.names.kind and spec.claimNames")
	}

	var claim map[string]any
	if err := yaml.Unmarshal(claimDoc, &claim); err != nil {
		return nil, fmt.Errorf("--claim: decoding: %w", err)
	}
	apiVersion, _ := claim["apiVersion"].(string)
	kind, _ := claim["kind"].(string)
	md, _ := claim["metadata"].(map[string]any)
	name, _ := md["name"].(string)
	namespace, _ := md["namespace"].(string)
	switch {
	case kind != xrd.Spec.ClaimNames.Kind || !strings.HasPrefix(apiVersion, xrd.Spec.Group+"/"):
		return nil, fmt.Errorf("--claim is a %s %s, but the XRD's claim is %s in group %s", apiVersion, kind, xrd.Spec.ClaimNames.Kind, xrd.Spec.Group)
	case name == "":
		return nil, errors.New("--claim has no metadata.name")
	case namespace == "":
		return nil, fmt.Errorf("--claim %s has no metadata.namespace: claims are namespaced", name)
	}

	xrName := name + "-claim"
	labels := map[string]any{}
	if l, ok := md["labels"].(map[string]any); ok {
		for k, v := range l {
			labels[k] = v
		}
	}
	labels[labelClaimName] = name
	labels[labelClaimNamespace] = namespace
	labels[labelComposite] = xrName
	xrMeta := map[string]any{"name": xrName, "labels": labels}
	if a, ok := md["annotations"]; ok {
		xrMeta["annotations"] = a
	}

	spec := map[string]any{}
	if s, ok := claim["spec"].(map[string]any); ok {
		for k, v := range s {
			spec[k] = v
		}
	}
	for _, f := range claimOnlySpecFields {
		delete(spec, f)
	}
	spec["claimRef"] = map[string]any{"apiVersion": apiVersion, "kind": kind, "name": name, "namespace": namespace}

	out, err := yaml.Marshal(map[string]any{
		"apiVersion": apiVersion,
		"kind":       xrd.Spec.Names.Kind,
		"metadata":   xrMeta,
		"spec":       spec,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding the XR: %w", err)
	}
	return out, nil
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("claim-xr", flag.ContinueOnError)
	claimFile := fs.String("claim", "", "YAML file holding one claim")
	xrdFile := fs.String("xrd", "", "YAML file holding the CompositeResourceDefinition that offers the claim")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *claimFile == "" || *xrdFile == "" {
		return errors.New("--claim and --xrd are required")
	}
	claim, err := os.ReadFile(*claimFile)
	if err != nil {
		return fmt.Errorf("--claim: %w", err)
	}
	xrd, err := os.ReadFile(*xrdFile)
	if err != nil {
		return fmt.Errorf("--xrd: %w", err)
	}
	out, err := xrFor(claim, xrd)
	if err != nil {
		return err
	}
	_, err = stdout.Write(out)
	return err
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "claim-xr:", err)
		os.Exit(1)
	}
}
