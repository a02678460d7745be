// Command function-redis-ha serves the redis-ha composition function over gRPC, the way
// Crossplane (and `crossplane composition render`) expects a function to listen.
package main

import (
	"github.com/alecthomas/kong"

	sdk "github.com/crossplane/function-sdk-go"

	"github.com/redis-ha/redis-ha/function"
	"github.com/redis-ha/redis-ha/internal/version"
)

// CLI holds the flags of function-redis-ha. The first six are the flags every Crossplane
// function takes, so Crossplane's runtime and tooling can start it unchanged.
type CLI struct {
	Debug              bool   `help:"Emit debug logs in addition to info logs."                                                    short:"d"`
	Network            string `default:"tcp"                                                                                       help:"Network on which to listen for gRPC connections."`
	Address            string `default:":9443"                                                                                     help:"Address at which to listen for gRPC connections."`
	TLSCertsDir        string `env:"TLS_SERVER_CERTS_DIR" name:"tls-server-certs-dir" aliases:"tls-certs-dir"                                                                        help:"Directory containing server certs (tls.key, tls.crt) and the CA used to verify client certificates (ca.crt)."`
	Insecure           bool   `help:"Run without mTLS credentials. If you supply this flag --tls-server-certs-dir will be ignored."`
	MaxRecvMessageSize int    `default:"4"                                                                                         help:"Maximum size of received messages in MB."`
	// The SDK would otherwise always listen on :8080 for metrics, which collides with
	// anything else on the host (e.g. a local tunnel during `crossplane render`).
	MetricsAddress string `env:"METRICS_ADDRESS" help:"Address of the Prometheus /metrics listener, e.g. :8080. Empty (the default) turns gRPC metrics off."`
}

// Run serves the function until the process is stopped.
func (c *CLI) Run() error {
	log, err := sdk.NewLogger(c.Debug)
	if err != nil {
		return err
	}
	log.Info("Starting function-redis-ha", "version", version.Version, "address", c.Address, "metrics-address", c.MetricsAddress)
	return sdk.Serve(function.New(log),
		sdk.Listen(c.Network, c.Address),
		sdk.MTLSCertificates(c.TLSCertsDir),
		sdk.Insecure(c.Insecure),
		sdk.MaxRecvMessageSize(c.MaxRecvMessageSize*1024*1024),
		sdk.WithMetricsServer(c.MetricsAddress))
}

func main() {
	ctx := kong.Parse(&CLI{}, kong.Description("The redis-ha Crossplane composition function."))
	ctx.FatalIfErrorf(ctx.Run())
}
