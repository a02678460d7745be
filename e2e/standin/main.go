// Command e2e-standin-function is a minimal composition function for the end-to-end harness
// itself: it lets the harness prove the Crossplane -> mTLS -> local function -> composed
// resource -> garbage collection path before (and independently of) function-redis-ha. For an
// XR with spec.message it composes one ConfigMap carrying the message, reports it ready, and
// copies the message into the XR's status.echo.
//
// It is a separate module so the SDK's dependency tree never enters the main go.mod.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/crossplane/function-sdk-go"
	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
	"github.com/crossplane/function-sdk-go/request"
	"github.com/crossplane/function-sdk-go/resource"
	"github.com/crossplane/function-sdk-go/resource/composed"
	"github.com/crossplane/function-sdk-go/response"
)

// echoFunction composes a ConfigMap from an XR's spec.message.
type echoFunction struct {
	fnv1.UnimplementedFunctionRunnerServiceServer
}

// RunFunction composes the echo ConfigMap.
func (echoFunction) RunFunction(_ context.Context, req *fnv1.RunFunctionRequest) (*fnv1.RunFunctionResponse, error) {
	rsp := response.To(req, response.DefaultTTL)
	xr, err := request.GetObservedCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, fmt.Errorf("read observed XR: %w", err))
		return rsp, nil
	}
	msg, err := xr.Resource.GetString("spec.message")
	if err != nil || msg == "" {
		response.Fatal(rsp, errors.New("spec.message is required: set it to any non-empty string"))
		return rsp, nil
	}
	desired, err := request.GetDesiredComposedResources(req)
	if err != nil {
		response.Fatal(rsp, fmt.Errorf("read desired composed resources: %w", err))
		return rsp, nil
	}
	cm := composed.New()
	cm.SetAPIVersion("v1")
	cm.SetKind("ConfigMap")
	cm.SetNamespace(xr.Resource.GetNamespace())
	cm.Object["data"] = map[string]any{"message": msg}
	desired["echo"] = &resource.DesiredComposed{Resource: cm, Ready: resource.ReadyTrue}
	if err := response.SetDesiredComposedResources(rsp, desired); err != nil {
		response.Fatal(rsp, fmt.Errorf("set desired composed resources: %w", err))
		return rsp, nil
	}
	dxr, err := request.GetDesiredCompositeResource(req)
	if err != nil {
		response.Fatal(rsp, fmt.Errorf("read desired XR: %w", err))
		return rsp, nil
	}
	if err := dxr.Resource.SetString("status.echo", msg); err != nil {
		response.Fatal(rsp, fmt.Errorf("set status.echo: %w", err))
		return rsp, nil
	}
	if err := response.SetDesiredCompositeResource(rsp, dxr); err != nil {
		response.Fatal(rsp, fmt.Errorf("set desired XR: %w", err))
		return rsp, nil
	}
	return rsp, nil
}

func main() {
	address := flag.String("address", "127.0.0.1:9443", "gRPC listen address")
	certs := flag.String("tls-certs-dir", "", "directory with tls.crt, tls.key and ca.crt (mTLS); required")
	metrics := flag.String("metrics-address", "127.0.0.1:0", "Prometheus metrics listen address; empty disables")
	flag.Parse()
	if *certs == "" {
		fmt.Fprintln(os.Stderr, "e2e-standin-function: --tls-certs-dir is required (Crossplane only speaks mTLS)")
		os.Exit(2)
	}
	err := function.Serve(echoFunction{},
		function.Listen("tcp", *address),
		function.MTLSCertificates(*certs),
		function.WithMetricsServer(*metrics))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e-standin-function:", err)
		os.Exit(1)
	}
}
