package gitops

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The Backstage Scaffolder renders templates with Nunjucks, using "${{" and "}}" as variable
// delimiters. The skeleton and the template's step inputs stay inside this subset:
//
//	${{ values.name }}            a value printed as text
//	${{ values.name | dump }}     a value as JSON (so strings are quoted YAML scalars)
//	${{ parameters.name }}        the same, for the template's own step inputs
//
// Everything else Nunjucks can do (tags {% %}, comments {# #}, other filters, expressions) is
// rejected, so a test proves the skeleton renders exactly as Backstage would render it.

var (
	nunjucksExpression = regexp.MustCompile(`\$\{\{(.*?)\}\}`)
	nunjucksReference  = regexp.MustCompile(`^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+)\s*(\|\s*dump\s*)?$`)
)

// RenderNunjucks substitutes every ${{ ... }} in text from scope (e.g. {"values": {...}}).
// Unsupported syntax and references to missing values are errors naming the expression:
// Nunjucks would print an empty string for a missing value, which in a manifest is a bug.
func RenderNunjucks(text string, scope map[string]any) (string, error) {
	if err := rejectUnsupportedNunjucks(text); err != nil {
		return "", err
	}
	var firstErr error
	out := nunjucksExpression.ReplaceAllStringFunc(text, func(expr string) string {
		s, err := renderExpression(expr, scope)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return s
	})
	if firstErr != nil {
		return "", firstErr
	}
	if strings.Contains(out, "${{") {
		return "", fmt.Errorf("unterminated ${{ in %q", text)
	}
	return out, nil
}

// EvaluateNunjucks evaluates a Scaffolder input string. When the whole string is one
// expression, the Scaffolder keeps the value's type (a number stays a number); otherwise the
// result is the rendered text.
func EvaluateNunjucks(text string, scope map[string]any) (any, error) {
	if m := nunjucksExpression.FindStringSubmatchIndex(text); m != nil && m[0] == 0 && m[1] == len(text) {
		if err := rejectUnsupportedNunjucks(text); err != nil {
			return nil, err
		}
		ref := nunjucksReference.FindStringSubmatch(text[m[2]:m[3]])
		if ref != nil && ref[2] == "" {
			return lookup(scope, ref[1])
		}
	}
	return RenderNunjucks(text, scope)
}

func rejectUnsupportedNunjucks(text string) error {
	for _, tag := range []string{"{%", "{#"} {
		if i := strings.Index(text, tag); i >= 0 {
			return fmt.Errorf("unsupported Nunjucks syntax %q at offset %d: only ${{ values.x }} and ${{ values.x | dump }} are supported", tag, i)
		}
	}
	return nil
}

func renderExpression(expr string, scope map[string]any) (string, error) {
	inner := strings.TrimSuffix(strings.TrimPrefix(expr, "${{"), "}}")
	ref := nunjucksReference.FindStringSubmatch(inner)
	if ref == nil {
		return "", fmt.Errorf("unsupported Nunjucks expression %s: only ${{ values.x }} and ${{ values.x | dump }} are supported", expr)
	}
	v, err := lookup(scope, ref[1])
	if err != nil {
		return "", fmt.Errorf("%s: %w", expr, err)
	}
	if ref[2] != "" {
		return dumpJSON(v)
	}
	return printValue(v)
}

func lookup(scope map[string]any, path string) (any, error) {
	var cur any = scope
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not an object", path, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("%s is not set: add it to the template's values (or answer it)", path)
		}
	}
	return cur, nil
}

// printValue prints v as Nunjucks prints a JavaScript value.
func printValue(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float64:
		if math.IsInf(t, 0) || math.IsNaN(t) {
			return "", fmt.Errorf("cannot print %v", t)
		}
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	default:
		return "", fmt.Errorf("cannot print a %T as text (Nunjucks would print [object Object]): use | dump", v)
	}
}

// dumpJSON is Nunjucks' dump filter: JSON.stringify, which does not escape <, > and &.
func dumpJSON(v any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("dump: %w", err)
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}
