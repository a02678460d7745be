package gitops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// HealthStatus is what an Argo CD health script returns.
type HealthStatus struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// validHealthStatuses are the statuses Argo CD accepts; anything else becomes Unknown.
var validHealthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// RunHealthScript runs a health script on obj the way Argo CD's controller does (util/lua in argo-cd):
// a fresh state without the standard libraries except base, table and package (custom
// scripts get no string or os.execute), the object converted value by value into a Lua table
// bound to the global obj, a one-second deadline, and the returned table read back as
// {status, message}, with an unknown status reported as Unknown. Argo CD also loads a
// read-only os (time, date); our scripts do not use it, so it is left out and any use fails.
func RunHealthScript(script string, obj *unstructured.Unstructured) (HealthStatus, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), NRet: 0, Protect: true}, lua.LString(name)); err != nil {
			return HealthStatus{}, fmt.Errorf("opening Lua library %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return HealthStatus{}, fmt.Errorf("running health script: %w", err)
	}
	ret := l.Get(-1)
	tbl, ok := ret.(*lua.LTable)
	if !ok {
		return HealthStatus{}, fmt.Errorf("health script returned a %s, Argo CD expects a table", ret.Type())
	}
	var hs HealthStatus
	if s, ok := tbl.RawGetString("status").(lua.LString); ok {
		hs.Status = string(s)
	}
	switch m := tbl.RawGetString("message").(type) {
	case lua.LString:
		hs.Message = string(m)
	case *lua.LNilType:
	default:
		return HealthStatus{}, fmt.Errorf("health script returned a %s message, Argo CD expects a string", m.Type())
	}
	if !slices.Contains(validHealthStatuses, hs.Status) {
		return HealthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, nil
	}
	return hs, nil
}

// toLua converts a decoded Kubernetes object the way Argo CD does: maps become hash tables,
// lists become arrays, numbers LNumber, and anything unexpected nil.
func toLua(l *lua.LState, v any) lua.LValue {
	switch t := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(t)
	case string:
		return lua.LString(t)
	case json.Number:
		return lua.LString(t)
	case int64:
		return lua.LNumber(t)
	case int:
		return lua.LNumber(t)
	case float64:
		return lua.LNumber(t)
	case []any:
		a := l.CreateTable(len(t), 0)
		for _, e := range t {
			a.Append(toLua(l, e))
		}
		return a
	case map[string]any:
		m := l.CreateTable(0, len(t))
		for k, e := range t {
			m.RawSetH(lua.LString(k), toLua(l, e))
		}
		return m
	default:
		return lua.LNil
	}
}

// ShippedHealthScripts reads the checks from the generated argocd-cm snippet under the
// repository root, so tests exercise exactly what users install, keyed like Argo CD looks
// them up (ConfigMapHealthKey).
func ShippedHealthScripts(root string) (map[string]string, error) {
	b, err := os.ReadFile(filepath.Join(root, ArgoCDConfigMapPath))
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.UnmarshalStrict(b, &cm); err != nil {
		return nil, fmt.Errorf("%s: %w", ArgoCDConfigMapPath, err)
	}
	if cm.Kind != "ConfigMap" || cm.Name != "argocd-cm" || cm.Namespace != "argocd" {
		return nil, fmt.Errorf("%s is %s %s/%s, want ConfigMap argocd/argocd-cm", ArgoCDConfigMapPath, cm.Kind, cm.Namespace, cm.Name)
	}
	return cm.Data, nil
}
