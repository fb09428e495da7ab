// Command selo runs and operates a Selo trust service: the certificate
// authority, its key store and its HTTP server. Run `selo --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/selo-qtsp/selo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Run executes the selo command line with args and returns the exit status:
// 0 on success, 1 for an error, 2 for a usage error.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cli := newCLI(stdin, stdout, stderr)
	defer cli.close()
	root := cli.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var usage *usageError
	switch {
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "selo: %s\nRun 'selo --help' for usage.\n", usage.msg)
		return 2
	case selo.ErrorCode(err) == selo.EINTERNAL:
		// Not an application error: show it in full, this is the operator's own tool.
		fmt.Fprintf(stderr, "selo: %v\n", err)
	default:
		fmt.Fprintf(stderr, "selo: %s\n", selo.ErrorMessage(err))
	}
	return 1
}

// usageError is a mistake in the command line itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{msg: fmt.Sprintf(format, args...)} }
