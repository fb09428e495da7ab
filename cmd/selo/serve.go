package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/selo-qtsp/selo/server"
)

func (c *cli) serveCommand() *cobra.Command {
	var listen string
	var noInit bool
	cmd := &cobra.Command{
		Use:   "serve [--listen ADDR]",
		Short: "Run the Selo server (public CA endpoints and the REST API)",
		Long: `Serve runs Selo's HTTP server:

  GET  /healthz                 liveness and database check
  GET  /ca/{id}.crt             a CA certificate, DER (the AIA caIssuers URL)
  GET  /ca/{id}.pem             a CA's chain up to the root, PEM
  GET  /ca/{id}.p7b             the same chain as PKCS#7 (.p7b)
  /api/v1/...                   the operator REST API (Authorization: Bearer API-KEY)

On its first run with an empty data directory it initializes one on the
embedded defaults (as 'selo init' with its default flags) and prints the
operator API key once. Stop it with Ctrl-C: it finishes the requests in flight.`,
		Example: `  selo serve
  selo serve --listen 0.0.0.0:8443 --base-url https://pki.example.pt --database postgres://selo@db/selo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !c.initialized() {
				if noInit {
					return fmt.Errorf("%s is not initialized: run 'selo init' first", c.dataDir)
				}
				fmt.Fprintf(c.stderr, "first run: initializing %s on the embedded defaults\n", c.dataDir)
				if err := c.initialize(cmd, defaultInitOptions()); err != nil {
					return err
				}
			}
			a, err := c.authority(ctx)
			if err != nil {
				return err
			}
			srv := server.New(server.Config{Authority: a, Logger: c.log})
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", listen, err)
			}
			hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
			c.log.Info("selo serving", "addr", ln.Addr().String(), "data", c.dataDir, "base_url", c.baseURL)
			fmt.Fprintf(c.stderr, "Selo is listening on http://%s\n", ln.Addr())
			errc := make(chan error, 1)
			go func() { errc <- hs.Serve(ln) }()
			select {
			case err := <-errc:
				return err
			case <-ctx.Done():
			}
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			c.log.Info("selo stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	cmd.Flags().BoolVar(&noInit, "no-init", false, "refuse to start on an uninitialized data directory instead of initializing it")
	return cmd
}
