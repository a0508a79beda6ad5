// Package testservers runs real object-store servers on 127.0.0.1 for tests:
// MinIO (S3), fake-gcs-server (GCS) and Azurite (Azure Blob).
//
//	srv := testservers.Shared(t, testservers.S3) // one per test binary
//	url := srv.NewBucket(t)                       // "s3://fsnap-1-...?endpoint=..."
//	loc, err := store.Open(ctx, url)
//
// Shared servers start on first use and live until the test binary exits
// (the kernel kills them with it: PR_SET_PDEATHSIG). Start gives a private
// server, stopped in t.Cleanup, that a test may Kill and Restart on the same
// port and data (a store dying mid-copy).
//
// The binaries come from $FSNAP_TOOLS (default ~/.cache/fsnap/tools, Azurite
// from its node_modules/.bin), else PATH; .ci/install-test-servers.sh puts
// them there. Without one a test is skipped, or fails when CI=true.
//
// The servers need credentials and endpoints in the environment of the
// test process, which this package sets on first start: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION; STORAGE_EMULATOR_HOST; and
// AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY. Variables that would send
// requests elsewhere (AWS profiles, AWS_CA_BUNDLE, endpoint overrides, SAS
// tokens) are removed. The GCS emulator address is one process-wide
// variable, so GCS has only the shared server.
package testservers

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fsnap/fsnap/store"
)

// Kind names a server by the store URL scheme it serves.
type Kind string

const (
	S3    Kind = "s3"     // MinIO
	GCS   Kind = "gs"     // fake-gcs-server
	Azure Kind = "azblob" // Azurite
)

// Kinds lists every kind, for tests that run against all stores.
var Kinds = []Kind{S3, GCS, Azure}

// Fixed credentials of the test servers.
const (
	MinIOUser     = "fsnaptest"
	MinIOPassword = "fsnaptest-secret-key"
	// MinIOKMSKey is the key of MinIO's built-in KMS: objects written
	// through a URL with "&ssetype=aws:kms&kmskeyid=" + MinIOKMSKey are
	// encrypted with it, and their ETags, as on AWS, are not MD5s.
	MinIOKMSKey      = "fsnap-test-key"
	minioKMSKeyBytes = "ZnNuYXAtdGVzdHMtMzItYnl0ZS1rbXMta2V5LWZpeCE=" // 32 bytes, base64
	AzureAccount     = "devstoreaccount1"
	AzureKey         = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
	startupTimeout   = 90 * time.Second
)

// Server is one running (or killed) server process.
type Server struct {
	Kind Kind
	Addr string // 127.0.0.1:port
	Dir  string // data directory, kept across Restart

	mu      sync.Mutex
	bin     string
	args    []string
	env     []string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	buckets int
}

// Tools is the directory the install script fills.
func Tools() string {
	if d := os.Getenv("FSNAP_TOOLS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "fsnap", "tools")
}

// binName is the executable of each kind.
func binName(k Kind) string {
	switch k {
	case S3:
		return "minio"
	case GCS:
		return "fake-gcs-server"
	default:
		return "azurite-blob"
	}
}

// find returns the path of the server binary of k, or "".
func find(k Kind) string {
	name := binName(k)
	cands := []string{filepath.Join(Tools(), name)}
	if k == Azure {
		cands = []string{filepath.Join(Tools(), "node_modules", ".bin", name)}
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return c
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return ""
}

// missing skips or, on CI, fails a test whose server cannot run.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := what + ": run .ci/install-test-servers.sh (installs into " + Tools() + ")"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

var (
	sharedMu sync.Mutex
	shared   = map[Kind]*Server{}
	// sharedErr remembers a failed start so later tests fail fast.
	sharedErr = map[Kind]error{}
)

// Shared returns the server of kind k shared by the whole test binary,
// starting it on first use. Do not Kill it; use Start for that.
func Shared(t testing.TB, k Kind) *Server {
	t.Helper()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if s := shared[k]; s != nil {
		return s
	}
	if err := sharedErr[k]; err != nil {
		t.Fatalf("shared %s server: %v", k, err)
	}
	bin := find(k)
	if bin == "" || (k == Azure && !haveNode()) {
		missing(t, binName(k)+" not found")
	}
	dir, err := sharedDir(k)
	if err == nil {
		var s *Server
		s, err = start(k, bin, dir)
		if err == nil {
			shared[k] = s
			return s
		}
	}
	sharedErr[k] = err
	t.Fatalf("start %s: %v", k, err)
	return nil
}

// Start starts a private server of kind k (S3 or Azure), stopped and
// removed in t.Cleanup.
func Start(t testing.TB, k Kind) *Server {
	t.Helper()
	if k == GCS {
		t.Fatal("testservers: GCS has only the shared server (STORAGE_EMULATOR_HOST is process-wide)")
	}
	bin := find(k)
	if bin == "" || (k == Azure && !haveNode()) {
		missing(t, binName(k)+" not found")
	}
	s, err := start(k, bin, t.TempDir())
	if err != nil {
		t.Fatalf("start %s: %v", k, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func haveNode() bool { _, err := exec.LookPath("node"); return err == nil }

// start launches a server in dir on a free port and waits until it serves.
// A port taken between choosing and binding is retried.
func start(k Kind, bin, dir string) (*Server, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var port int
		if port, err = freePort(); err != nil {
			return nil, err
		}
		s := &Server{Kind: k, Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, bin: bin}
		s.configure()
		setEnv(k, s.Addr)
		if err = s.launch(); err == nil {
			return s, nil
		}
	}
	return nil, err
}

func (s *Server) configure() {
	_, port, _ := net.SplitHostPort(s.Addr)
	switch s.Kind {
	case S3:
		cport, _ := freePort()
		s.args = []string{"server", filepath.Join(s.Dir, "data"), "--address", s.Addr,
			"--console-address", "127.0.0.1:" + strconv.Itoa(cport),
			"--certs-dir", filepath.Join(s.Dir, "certs"), "--quiet"}
		s.env = []string{"MINIO_ROOT_USER=" + MinIOUser, "MINIO_ROOT_PASSWORD=" + MinIOPassword,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1",
			"MINIO_KMS_SECRET_KEY=" + MinIOKMSKey + ":" + minioKMSKeyBytes}
	case GCS:
		s.args = []string{"-scheme", "http", "-host", "127.0.0.1", "-port", port, "-backend", "memory",
			"-external-url", "http://" + s.Addr, "-public-host", s.Addr, "-log-level", "warn"}
	case Azure:
		s.args = []string{"--blobHost", "127.0.0.1", "--blobPort", port, "--location", filepath.Join(s.Dir, "data"),
			"--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"}
	}
	s.env = append(s.env, "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
}

// launch runs the configured command and waits for readiness.
func (s *Server) launch() error {
	logf, err := os.OpenFile(filepath.Join(s.Dir, string(s.Kind)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.Dir
	cmd.Env = append(os.Environ(), s.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Killed with the test binary; its own process group so that a ^C on
	// the terminal reaches it only through us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := spawn(cmd); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := s.waitReady(done); err != nil {
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("%w\n%s", err, s.logTail())
	}
	return nil
}

// PR_SET_PDEATHSIG fires when the thread that forked the child exits, not
// the process. All servers are therefore forked from one goroutine locked
// to a thread that never exits.
var (
	spawnOnce sync.Once
	spawnReq  chan spawnCall
)

type spawnCall struct {
	cmd *exec.Cmd
	err chan error
}

func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnReq = make(chan spawnCall)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread lives as long as the process
			for c := range spawnReq {
				c.err <- c.cmd.Start()
			}
		}()
	})
	c := spawnCall{cmd: cmd, err: make(chan error)}
	spawnReq <- c
	return <-c.err
}

func (s *Server) waitReady(done chan struct{}) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	url := "http://" + s.Addr
	switch s.Kind {
	case S3:
		url += "/minio/health/ready"
	case GCS:
		url += "/storage/v1/b"
	case Azure:
		url += "/" + AzureAccount + "?comp=list"
	}
	deadline := time.Now().Add(startupTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited during startup", binName(s.Kind))
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			// Azurite answers an unsigned request with 403: it is serving.
			if resp.StatusCode == http.StatusOK || s.Kind == Azure {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready at %s after %v", binName(s.Kind), s.Addr, startupTimeout)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, string(s.Kind)+".log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// Kill kills the server at once (SIGKILL), as a crash would, and waits for
// it to exit. What the server had made durable stays in Dir: MinIO keeps
// every acknowledged write; Azurite saves its metadata every few seconds
// and loses recent containers and blobs (use Shutdown to keep them).
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

// Shutdown stops the server gracefully (SIGTERM) and waits for it to exit.
func (s *Server) Shutdown() { s.signal(syscall.SIGTERM) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// Restart starts a killed or shut down server again on the same port and
// data (killing it first if it still runs).
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Kill()
	var err error
	// The port is ours until someone else grabs it; retry briefly in case
	// the old socket lingers.
	for i := 0; i < 3; i++ {
		if err = s.launch(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("restart %s: %v", s.Kind, err)
}

// Stop stops the server for good (Start's t.Cleanup calls it).
func (s *Server) Stop() { s.Kill() }

// StopAll stops the shared servers and removes their data. Call it from
// TestMain after m.Run; without it they die with the binary and their data
// directories are removed by the next test binary that starts a server.
func StopAll() {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for k, s := range shared {
		s.Kill()
		os.RemoveAll(s.Dir)
		delete(shared, k)
	}
}

const sharedPrefix = "fsnap-testservers-"

// sharedDir makes the data directory of a shared server, named after this
// process, after removing those of processes that no longer run.
func sharedDir(k Kind) (string, error) {
	if old, _ := filepath.Glob(filepath.Join(os.TempDir(), sharedPrefix+"*")); len(old) > 0 {
		for _, d := range old {
			f := strings.SplitN(strings.TrimPrefix(filepath.Base(d), sharedPrefix), "-", 2)
			if pid, err := strconv.Atoi(f[0]); err == nil && pid != os.Getpid() && !alive(pid) {
				os.RemoveAll(d)
			}
		}
	}
	return os.MkdirTemp("", fmt.Sprintf("%s%d-%s-", sharedPrefix, os.Getpid(), k))
}

func alive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var envMu sync.Mutex

// setEnv points the test process at the server: credentials, emulator
// address, and nothing that would redirect or break the requests.
func setEnv(k Kind, addr string) {
	envMu.Lock()
	defer envMu.Unlock()
	switch k {
	case S3:
		for _, v := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE",
			"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"} {
			os.Unsetenv(v)
		}
		os.Setenv("AWS_ACCESS_KEY_ID", MinIOUser)
		os.Setenv("AWS_SECRET_ACCESS_KEY", MinIOPassword)
		os.Setenv("AWS_REGION", "us-east-1")
		os.Setenv("AWS_CONFIG_FILE", os.DevNull)
		os.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
		os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	case GCS:
		os.Unsetenv("STORAGE_EMULATOR_HOST_GRPC")
		os.Setenv("STORAGE_EMULATOR_HOST", addr)
	case Azure:
		for _, v := range []string{"AZURE_STORAGE_SAS_TOKEN", "AZURE_STORAGE_CONNECTION_STRING",
			"AZURE_STORAGEBLOB_CONNECTIONSTRING", "AZURE_STORAGE_DOMAIN", "AZURE_STORAGE_PROTOCOL",
			"AZURE_STORAGE_IS_CDN", "AZURE_STORAGE_IS_LOCAL_EMULATOR"} {
			os.Unsetenv(v)
		}
		os.Setenv("AZURE_STORAGE_ACCOUNT", AzureAccount)
		os.Setenv("AZURE_STORAGE_KEY", AzureKey)
	}
}

// URL returns the store URL of bucket (container) on s.
func (s *Server) URL(bucket string) string {
	switch s.Kind {
	case S3:
		return "s3://" + bucket + "?endpoint=http://" + s.Addr + "&use_path_style=true&region=us-east-1"
	case GCS:
		return "gs://" + bucket
	default:
		return "azblob://" + bucket + "?protocol=http&domain=" + s.Addr
	}
}

// NewBucket creates a new, empty bucket named after the test and returns
// its store URL.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	s.mu.Lock()
	s.buckets++
	name := bucketName(s.buckets, t.Name())
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.CreateBucket(ctx, name); err != nil {
		t.Fatalf("create bucket %s on %s: %v", name, s.Kind, err)
	}
	return s.URL(name)
}

// bucketName makes a name valid for S3, GCS and Azure: 3-63 characters of
// lower-case letters, digits and single hyphens.
func bucketName(n int, test string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fsnap-%d-", n)
	for _, r := range strings.ToLower(test) {
		if b.Len() >= 60 {
			break
		}
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else if !strings.HasSuffix(b.String(), "-") {
			b.WriteByte('-')
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// FlinkPath is the absolute path Flink writes for path p in bucket (or
// container) b of a server of kind k, spelled out independently of the
// store package so that tests check its mapping.
func FlinkPath(k Kind, b, p string) string {
	if k == Azure {
		return "wasbs://" + b + "@" + AzureAccount + ".blob.core.windows.net/" + p
	}
	return string(k) + "://" + b + "/" + p
}

// Open opens a store location for a test and closes it when the test ends.
func Open(tb testing.TB, ref string) *store.Location {
	tb.Helper()
	l, err := store.Open(context.Background(), ref)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	return l
}
