// Command fsnap inspects, verifies, cleans up and migrates Apache Flink
// checkpoints and savepoints, without a JVM.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/internal/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, documented in `fsnap help` and the README.
const (
	exitOK       = 0
	exitFindings = 1 // a check found problems at or above the threshold
	exitUsage    = 2
	exitInput    = 3 // unreadable or corrupt input, or a store error
)

// command is one subcommand: its usage, help, flags and action.
type command struct {
	name  string
	args  string // the arguments after the name, for the usage line
	short string
	long  string
	flags func(fs *pflag.FlagSet) // declares the flags
	run   func(ctx context.Context, env *env, args []string) error
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// usageError makes the process exit with exitUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// exitError carries a specific exit code with its message (message may be empty).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr}))
}

func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		writeTopHelp(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(e.stdout, versionLine())
		return exitOK
	case "help", "-h", "--help":
		if len(args) > 1 {
			c, ok := commands[args[1]]
			if !ok {
				fmt.Fprintf(e.stderr, "fsnap help: unknown command %q\n", args[1])
				return exitUsage
			}
			writeCommandHelp(e.stdout, c)
			return exitOK
		}
		writeTopHelp(e.stdout)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "fsnap: unknown command %q; run 'fsnap help'\n", args[0])
		return exitUsage
	}
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	help := fs.BoolP("help", "h", false, "show this help")
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		fmt.Fprintf(e.stderr, "fsnap %s: %v\nusage: fsnap %s %s\n", c.name, err, c.name, c.args)
		return exitUsage
	}
	if *help {
		writeCommandHelp(e.stdout, c)
		return exitOK
	}
	err := c.run(ctx, e, fs.Args())
	var ue *usageError
	var xe *exitError
	var ce *store.CredentialsError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "fsnap %s: %s\nusage: fsnap %s %s\n", c.name, ue.msg, c.name, c.args)
		return exitUsage
	case errors.As(err, new(*store.SchemeError)):
		// A store fsnap has no client for: the command line is at fault.
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.name, err)
		return exitUsage
	case errors.As(err, &ce):
		// One line naming what was looked for, not the SDK's error chain.
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.name, ce)
		return exitInput
	case errors.As(err, &xe):
		if xe.err != nil {
			fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.name, xe.err)
		}
		return xe.code
	default:
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.name, err)
		return exitInput
	}
}

const exitCodesHelp = `Exit codes:
  0  success (verify: no finding at or above --fail-on)
  1  a check said no: verify found problems at or above --fail-on, latest
     found no complete snapshot, gc would exceed --max-delete
  2  usage error (unknown command or flag, wrong arguments)
  3  unreadable or corrupt input, a storage error, or a failed relocation
     or conversion
`

func writeTopHelp(w io.Writer) {
	fmt.Fprintf(w, "fsnap %s: Apache Flink snapshot storage toolkit (no JVM needed)\n\nUsage: fsnap COMMAND [flags] [args]\n\nCommands:\n", version)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprintf(w, "\nRun 'fsnap help COMMAND' for a command's flags. 'fsnap --version' prints the version.\n\n")
	fmt.Fprint(w, locationsHelp, "\n", exitCodesHelp)
}

const locationsHelp = `Snapshots and roots are named by a local path or a URL:
  /path/to/savepoint-abc123-0123456789ab   file:///path/...   (a directory or its _metadata)
  s3://bucket/prefix?endpoint=http://host:9000&use_path_style=true&region=R
  gs://bucket/prefix     azblob://container/prefix     mem://name/prefix
  or as Flink writes them: s3a:// s3p:// s3n://, wasbs://container@account.blob.core.windows.net/...,
  abfss://container@account.dfs.core.windows.net/... (hdfs://, oss://, ... are refused, exit 2)
Credentials: each cloud's standard chain (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*);
AWS_ENDPOINT_URL points s3:// at an S3-compatible store.
`

func writeCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "Usage: fsnap %s %s\n\n%s\n", c.name, c.args, c.short)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.BoolP("help", "h", false, "show this help")
	if c.flags != nil {
		c.flags(fs)
	}
	fmt.Fprintf(w, "\nFlags:\n%s\n%s", fs.FlagUsages(), exitCodesHelp)
}
