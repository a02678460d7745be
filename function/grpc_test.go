package function

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	fnv1 "github.com/crossplane/function-sdk-go/proto/v1"
)

// TestRunFunctionOverGRPC calls the function the way Crossplane does, over a real gRPC
// connection on loopback, and checks the full example survives the wire both ways.
func TestRunFunctionOverGRPC(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	fnv1.RegisterFunctionRunnerServiceServer(srv, newTestFunction())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	rsp, err := fnv1.NewFunctionRunnerServiceClient(conn).RunFunction(ctx, runRequest(t, readExample(t, "redisha.yaml"), nil))
	if err != nil {
		t.Fatalf("RunFunction over gRPC: %v", err)
	}
	if got, want := len(rsp.GetDesired().GetResources()), len(goldenState(t, "redisha").GetResources()); got != want {
		t.Errorf("RunFunction over gRPC returned %d composed resources, want %d", got, want)
	}
	for _, r := range rsp.GetResults() {
		if r.GetSeverity() == fnv1.Severity_SEVERITY_FATAL {
			t.Errorf("RunFunction over gRPC: fatal result %q", r.GetMessage())
		}
	}
}
