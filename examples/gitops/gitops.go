// Package gitops generates and checks the GitOps and platform-catalog examples under
// examples/argocd and examples/backstage. Two files there are derived, never hand-edited:
// the argocd-cm snippet (built from the Lua health checks in examples/argocd/health) and the
// Backstage API definition (built from the XRDs that `make generate` writes into
// package/configuration). The package also renders the small Nunjucks subset the Backstage
// template skeleton may use, so tests can fill the skeleton the way the Scaffolder does.
package gitops

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// GeneratedFile is one derived file: where it lives (relative to the repository root) and
// what it must contain.
type GeneratedFile struct {
	Path    string
	Content []byte
}

// Generate renders every derived file from the sources under root (the repository root).
func Generate(root string) ([]GeneratedFile, error) {
	cm, err := ArgoCDConfigMap(root)
	if err != nil {
		return nil, err
	}
	api, err := OpenAPIDefinition(root)
	if err != nil {
		return nil, err
	}
	return []GeneratedFile{
		{Path: ArgoCDConfigMapPath, Content: cm},
		{Path: OpenAPIDefinitionPath, Content: api},
	}, nil
}

// Stale returns the derived files under root whose content differs from what Generate
// renders, so `-check` and the drift test agree on what "up to date" means.
func Stale(root string, files []GeneratedFile) ([]string, error) {
	var stale []string
	for _, f := range files {
		got, err := os.ReadFile(filepath.Join(root, f.Path))
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("reading %s: %w", f.Path, err)
		}
		if !bytes.Equal(got, f.Content) {
			stale = append(stale, f.Path)
		}
	}
	return stale, nil
}
