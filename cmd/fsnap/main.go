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
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/store"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, documented in `fsnap help` and the README.
const (
	exitOK       = 0
	exitFindings = 1 // a check found problems at or above the threshold
	exitUsage    = 2
	exitInput    = 3 // unreadable or corrupt input, or a store error
	// exitInterrupted is the shell's code for a process ended by SIGINT.
	exitInterrupted = 130
)

// command is one command or subcommand: its usage, help, flags and action.
// A command with subcommands (migrate) has no action of its own.
type command struct {
	name  string
	args  string // the arguments after the name, for the usage line
	short string
	long  string
	flags func(fs *pflag.FlagSet) // declares the flags
	run   func(ctx context.Context, env *env, args []string) error
	// nargs is the exact number of arguments (0: the command checks them).
	nargs int
	// output, when set, receives -o/--output, one of outputs (default:
	// text or json).
	output  *string
	outputs []string

	parent *command
	subs   map[string]*command
}

// path is the command's name as typed: "migrate relocate".
func (c *command) path() string {
	if c.parent != nil {
		return c.parent.path() + " " + c.name
	}
	return c.name
}

// env is what a command writes to.
type env struct {
	stdout, stderr io.Writer
}

var commands = map[string]*command{}

// globalFlags are every command's: bounds on the whole run and on each
// store request.
var globalFlags struct {
	timeout, requestTimeout time.Duration
}

func register(c *command) { commands[c.name] = c }

// registerSub adds a subcommand to the command parent.
func registerSub(parent string, c *command) {
	p := commands[parent]
	if p.subs == nil {
		p.subs = map[string]*command{}
	}
	c.parent = p
	p.subs[c.name] = c
}

// lookup finds the command named by the leading arguments and returns the
// rest. A command with subcommands and no subcommand named is returned
// as it is (its help lists them).
func lookup(args []string) (*command, []string, error) {
	c, ok := commands[args[0]]
	if !ok {
		return nil, nil, fmt.Errorf("unknown command %q%s; run 'fsnap help'", args[0], didYouMean(args[0], commands))
	}
	args = args[1:]
	for c.subs != nil && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sc, ok := c.subs[args[0]]
		if !ok {
			return nil, nil, fmt.Errorf("unknown command %q%s; run 'fsnap help %s'", c.path()+" "+args[0], didYouMean(args[0], c.subs), c.path())
		}
		c, args = sc, args[1:]
	}
	return c, args, nil
}

// didYouMean suggests the command closest to a misspelled name.
func didYouMean(name string, in map[string]*command) string {
	best, bestD := "", 3 // at most two edits away
	for n := range in {
		if d := editDistance(name, n); d < bestD || (d == bestD && n < best) {
			best, bestD = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance of a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

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
	widenPipe(os.Stdout)
	// FSNAP_CPUPROFILE=FILE writes a CPU profile of the run and
	// FSNAP_MEMPROFILE=FILE a profile of everything it allocated (which,
	// with the collector held back while a large model is loaded, is close
	// to its peak memory): how the performance figures in the README were
	// analysed.
	if p := os.Getenv("FSNAP_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
		}
	}
	mem := os.Getenv("FSNAP_MEMPROFILE")
	if mem != "" {
		runtime.MemProfileRate = 64 << 10
	}
	code := run(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr})
	pprof.StopCPUProfile() // writes out the profile, if one was started
	if mem != "" {
		runtime.GC() // the profile holds what the last collection saw
		if f, err := os.Create(mem); err == nil {
			pprof.Lookup("allocs").WriteTo(f, 0)
			f.Close()
		}
	}
	os.Exit(code)
}

func run(ctx context.Context, args []string, e *env) int {
	defer currentGC().restore() // loadSnapshot may change them
	// Every URL in output and errors goes through one redactor, which also
	// removes the secrets of the URLs given as arguments.
	e = &env{stdout: store.RedactingWriter(e.stdout, args...), stderr: store.RedactingWriter(e.stderr, args...)}
	if len(args) == 0 {
		writeTopHelp(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "--version", "-version", "version":
		fmt.Fprintln(e.stdout, versionLine())
		return exitOK
	case "help", "-h", "--help":
		if len(args) == 1 {
			writeTopHelp(e.stdout)
			return exitOK
		}
		c, _, err := lookup(args[1:])
		if err != nil {
			fmt.Fprintf(e.stderr, "fsnap help: %v\n", err)
			return exitUsage
		}
		writeCommandHelp(e.stdout, c)
		return exitOK
	}
	c, args, err := lookup(args)
	if err != nil {
		fmt.Fprintf(e.stderr, "fsnap: %v\n", err)
		return exitUsage
	}
	fs := newFlagSet(c)
	help := fs.Lookup("help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(e.stderr, "fsnap %s: %v\nusage: fsnap %s %s\n", c.path(), err, c.path(), c.args)
		return exitUsage
	}
	if help.Value.String() == "true" {
		writeCommandHelp(e.stdout, c)
		return exitOK
	}
	if err := c.checkArgs(fs.Args()); err != nil {
		return exitCode(ctx, e, c, err)
	}
	if globalFlags.timeout < 0 || globalFlags.requestTimeout < 0 {
		return exitCode(ctx, e, c, usagef("--timeout and --request-timeout must not be negative"))
	}
	store.SetTimeouts(store.Timeouts{Connect: min(globalFlags.requestTimeout, store.DefaultTimeouts.Connect),
		FirstByte: globalFlags.requestTimeout, Idle: globalFlags.requestTimeout})
	if globalFlags.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, globalFlags.timeout)
		defer cancel()
	}
	if c.run == nil {
		fmt.Fprintf(e.stderr, "fsnap %s: want a subcommand: %s\n", c.path(), strings.Join(sortedNames(c.subs), ", "))
		return exitUsage
	}
	return exitCode(ctx, e, c, c.run(ctx, e, fs.Args()))
}

// exitCode reports err and turns it into the process's exit code.
func exitCode(ctx context.Context, e *env, c *command, err error) int {
	var ue *usageError
	var xe *exitError
	var ce *store.CredentialsError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		fmt.Fprintf(e.stderr, "fsnap %s: gave up after %s (--timeout): %v\n", c.path(), globalFlags.timeout, err)
		return exitInput
	case errors.Is(ctx.Err(), context.Canceled):
		fmt.Fprintf(e.stderr, "fsnap %s: interrupted; nothing is left half-written, and running the same command again resumes\n", c.path())
		return exitInterrupted
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "fsnap %s: %s\nusage: fsnap %s %s\n", c.path(), ue.msg, c.path(), c.args)
		return exitUsage
	case errors.Is(err, store.ErrUnsupportedScheme):
		fmt.Fprintf(e.stderr, "fsnap %s: %v\nusage: fsnap %s %s\n", c.path(), err, c.path(), c.args)
		return exitUsage
	case errors.As(err, new(*store.SchemeError)):
		// A store fsnap has no client for: the command line is at fault.
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.name, err)
		return exitUsage
	case errors.As(err, &ce):
		// One line naming what was looked for, not the SDK's error chain.
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.name, ce)
		return exitInput
	case errors.Is(err, store.ErrLink):
		// A refusal: fsnap does not follow or delete links below a root.
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.path(), err)
		return exitFindings
	case errors.As(err, &xe):
		if xe.err != nil {
			fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.path(), xe.err)
		}
		return xe.code
	default:
		fmt.Fprintf(e.stderr, "fsnap %s: %v\n", c.path(), err)
		return exitInput
	}
}

// actFlag declares --apply, the one flag with which a command that deletes
// acts instead of planning; older spellings stay as hidden aliases.
func actFlag(fs *pflag.FlagSet, v *bool, usage string, aliases ...string) {
	fs.BoolVar(v, "apply", false, usage)
	for _, a := range aliases {
		fs.BoolVar(v, a, false, usage)
		fs.MarkHidden(a)
	}
}

// checkArgs checks the number of arguments and the output format.
func (c *command) checkArgs(args []string) error {
	if c.nargs > 0 && len(args) != c.nargs {
		var want []string
		for _, a := range strings.Fields(c.args) {
			if !strings.HasPrefix(a, "[") {
				want = append(want, a)
			}
		}
		return usagef("want %s, got %d arguments", strings.Join(want, " "), len(args))
	}
	if c.output != nil && !slices.Contains(c.formats(), *c.output) {
		return usagef("unknown output format %q (want %s)", *c.output, joinOr(c.formats()))
	}
	return nil
}

func (c *command) formats() []string {
	if c.outputs != nil {
		return c.outputs
	}
	return []string{"text", "json"}
}

// newFlagSet declares a command's flags and -h/--help.
func newFlagSet(c *command) *pflag.FlagSet {
	fs := pflag.NewFlagSet(c.path(), pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.BoolP("help", "h", false, "show this help")
	if c.flags != nil {
		c.flags(fs)
	}
	if c.output != nil {
		fs.StringVarP(c.output, "output", "o", c.formats()[0], "output format: "+joinOr(c.formats()))
	}
	if c.run != nil {
		fs.DurationVar(&globalFlags.timeout, "timeout", 0, "give up after this long, exit 3 (0: no limit)")
		fs.DurationVar(&globalFlags.requestTimeout, "request-timeout", store.DefaultTimeouts.FirstByte,
			"a store request with no answer or no progress for this long fails (and is retried with backoff)")
	}
	if c.subs != nil {
		fs.SetInterspersed(false) // flags after the subcommand's name are its own
	}
	return fs
}

func sortedNames(m map[string]*command) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

const exitCodesHelp = `Exit codes (the same for every command):
  0    success (verify: no finding at or above --fail-on)
  1    a check said no: verify found problems at or above --fail-on, latest
       found no complete snapshot, gc would exceed --max-delete
  2    usage error (unknown command or flag, wrong arguments, a URL of no
       known store)
  3    unreadable or corrupt input, a storage error, or a failed relocation
       or conversion
  130  interrupted (Ctrl-C); running the same command again resumes
`

const actHelp = `Commands that delete (gc, delete) only plan unless given --apply; commands
that write elsewhere (migrate relocate) act unless given --dry-run.
`

func writeTopHelp(w io.Writer) {
	fmt.Fprintf(w, "fsnap %s: Apache Flink snapshot storage toolkit (no JVM needed)\n\nUsage: fsnap COMMAND [flags] [args]\n\nCommands:\n", version)
	for _, n := range sortedNames(commands) {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprintf(w, "\nRun 'fsnap help COMMAND' for a command's flags. 'fsnap --version' prints the version.\n\n")
	fmt.Fprint(w, locationsHelp, "\n", actHelp, "\n", exitCodesHelp)
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
	fmt.Fprintf(w, "Usage: fsnap %s %s\n\n%s\n", c.path(), c.args, c.short)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	if c.subs != nil {
		fmt.Fprintf(w, "\nSubcommands (run 'fsnap help %s SUBCOMMAND' for each one's flags):\n", c.path())
		for _, n := range sortedNames(c.subs) {
			fmt.Fprintf(w, "  %-14s %s\n", n, c.subs[n].short)
		}
	}
	fmt.Fprintf(w, "\nFlags:\n%s\nExit codes: see 'fsnap help'.\n", newFlagSet(c).FlagUsages())
}
