package gitops

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRenderNunjucks(t *testing.T) {
	scope := map[string]any{"values": map[string]any{
		"name": "cache", "number": "2024", "replicas": int64(3), "ratio": 0.5, "on": true,
		"quote": `a"b<c>`, "nested": map[string]any{"x": "y"},
	}}
	cases := map[string]struct {
		reason  string
		text    string
		want    string
		wantErr string
	}{
		"Text":          {reason: "a string prints as is", text: "name: ${{ values.name }}-x", want: "name: cache-x"},
		"NoSpaces":      {reason: "spacing inside the delimiters does not matter", text: "${{values.name}}", want: "cache"},
		"Integer":       {reason: "numbers print like JavaScript", text: "${{ values.replicas }} ${{ values.ratio }}", want: "3 0.5"},
		"Bool":          {reason: "booleans print like JavaScript", text: "${{ values.on }}", want: "true"},
		"DumpString":    {reason: "dump quotes, so a numeric-looking name stays a YAML string", text: "${{ values.number | dump }}", want: `"2024"`},
		"DumpNoEscape":  {reason: "dump is JSON.stringify, which does not escape <, > and &", text: "${{ values.quote | dump }}", want: `"a\"b<c>"`},
		"DumpObject":    {reason: "objects need dump", text: "${{ values.nested | dump }}", want: `{"x":"y"}`},
		"Nested":        {reason: "dotted paths", text: "${{ values.nested.x }}", want: "y"},
		"GoTemplate":    {reason: "{{ without $ is plain text to the Scaffolder", text: "{{ .path }}", want: "{{ .path }}"},
		"Missing":       {reason: "Nunjucks would print nothing; a manifest must not", text: "${{ values.nope }}", wantErr: "values.nope is not set"},
		"ObjectAsText":  {reason: "Nunjucks would print [object Object]", text: "${{ values.nested }}", wantErr: "use | dump"},
		"Tag":           {reason: "tags are outside the subset", text: "{% if values.on %}x{% endif %}", wantErr: `unsupported Nunjucks syntax "{%"`},
		"Comment":       {reason: "comments are outside the subset", text: "{# note #}", wantErr: `unsupported Nunjucks syntax "{#"`},
		"OtherFilter":   {reason: "only dump is implemented", text: "${{ values.name | upper }}", wantErr: "unsupported Nunjucks expression"},
		"Expression":    {reason: "no arithmetic or literals", text: "${{ values.replicas + 1 }}", wantErr: "unsupported Nunjucks expression"},
		"BareVariable":  {reason: "references are dotted (values.x, parameters.x)", text: "${{ name }}", wantErr: "unsupported Nunjucks expression"},
		"Unterminated":  {reason: "an unclosed expression is an error, not text", text: "x ${{ values.name", wantErr: "unterminated"},
		"DefaultFilter": {reason: "default() is a common Nunjucks idiom but outside the subset", text: "${{ values.name | default('x') }}", wantErr: "unsupported Nunjucks expression"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := RenderNunjucks(tc.text, scope)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: error %v, want one containing %q", tc.reason, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}

func TestEvaluateNunjucksKeepsTypeOfWholeExpressions(t *testing.T) {
	scope := map[string]any{"parameters": map[string]any{"replicas": int64(5), "on": false, "name": "cache"}}
	cases := map[string]struct {
		reason string
		text   string
		want   any
	}{
		"Number":   {reason: "a whole-string expression keeps its type", text: "${{ parameters.replicas }}", want: int64(5)},
		"Bool":     {reason: "false stays false, not \"false\"", text: "${{ parameters.on }}", want: false},
		"Mixed":    {reason: "text around an expression makes a string", text: "n-${{ parameters.replicas }}", want: "n-5"},
		"Two":      {reason: "two expressions make a string", text: "${{ parameters.name }}${{ parameters.replicas }}", want: "cache5"},
		"Constant": {reason: "plain text is returned as is", text: "./skeleton", want: "./skeleton"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := EvaluateNunjucks(tc.text, scope)
			if err != nil {
				t.Fatalf("%s: %v", tc.reason, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("%s (-want +got):\n%s", tc.reason, diff)
			}
		})
	}
}
