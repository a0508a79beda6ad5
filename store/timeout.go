package store

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// Timeouts bound each request fsnap makes to an object store, so that an
// endpoint that accepts connections and never answers (a black hole, a
// hung proxy) fails the request instead of hanging the command. The SDKs
// retry a failed request with backoff (S3: 3 attempts, GCS and Azure as
// their clients do); a whole command is bounded by its context (the CLI's
// --timeout).
type Timeouts struct {
	Connect   time.Duration // TCP connect and TLS handshake
	FirstByte time.Duration // from the request sent to the response headers
	Idle      time.Duration // no byte read or written on the connection for this long
}

// DefaultTimeouts are the timeouts of a process that sets none.
var DefaultTimeouts = Timeouts{Connect: 10 * time.Second, FirstByte: 60 * time.Second, Idle: 60 * time.Second}

var (
	timeoutsMu sync.Mutex
	timeouts   = DefaultTimeouts
	transport  *http.Transport
)

// SetTimeouts sets the per-request timeouts of the stores opened from now
// on (zero fields keep their defaults).
func SetTimeouts(t Timeouts) {
	timeoutsMu.Lock()
	defer timeoutsMu.Unlock()
	if t.Connect <= 0 {
		t.Connect = DefaultTimeouts.Connect
	}
	if t.FirstByte <= 0 {
		t.FirstByte = DefaultTimeouts.FirstByte
	}
	if t.Idle <= 0 {
		t.Idle = DefaultTimeouts.Idle
	}
	timeouts, transport = t, nil
}

// httpTransport is the transport every store client uses: Go's defaults
// (proxy from the environment, HTTP/2, connection pool) with the timeouts.
func httpTransport() *http.Transport {
	timeoutsMu.Lock()
	defer timeoutsMu.Unlock()
	if transport != nil {
		return transport
	}
	t := timeouts
	d := &net.Dialer{Timeout: t.Connect, KeepAlive: 30 * time.Second}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: c, idle: t.Idle}, nil
	}
	tr.TLSHandshakeTimeout = t.Connect
	tr.ResponseHeaderTimeout = t.FirstByte
	tr.MaxIdleConnsPerHost = 64
	transport = tr
	return tr
}

// httpClient is an *http.Client over httpTransport.
func httpClient() *http.Client { return &http.Client{Transport: httpTransport()} }

// idleConn fails a read or write that makes no progress for idle: a
// response body that stops arriving, an upload the server stops taking.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(p)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(p)
}

// azureTryTimeout bounds one Azure request with its body (the SDK's
// default is a minute per try; uploads of large blocks take longer).
const azureTryTimeout = 15 * time.Minute
