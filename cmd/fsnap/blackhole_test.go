package main

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// blackHole listens on 127.0.0.1, accepts every connection and never
// answers; it returns the address.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// TestBlackHoleEndpoint (issue 20, item 8): against an endpoint that
// accepts TCP and never answers, ls, inspect, verify and gc fail with exit
// 3 naming the endpoint, within the request timeout and its retries; with
// long request timeouts, --timeout bounds the whole command.
func TestBlackHoleEndpoint(t *testing.T) {
	addr := blackHole(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret-key")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "devstoreaccount1")
	t.Setenv("AZURE_STORAGE_KEY", "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==")
	s3 := "s3://bkt/ckpt?endpoint=http://" + addr + "&use_path_style=true&region=us-east-1"
	az := "azblob://c/ckpt?protocol=http&domain=" + addr + "&storage_account=devstoreaccount1"
	for _, args := range [][]string{
		{"ls", s3}, {"inspect", s3}, {"verify", s3}, {"gc", s3}, {"ls", az}, {"inspect", az},
	} {
		args = append(args[:1], append([]string{"--request-timeout", "300ms"}, args[1:]...)...)
		start := time.Now()
		code, _, errs := fsnap(t, args...)
		took := time.Since(start)
		if code != exitInput || !strings.Contains(errs, addr) {
			t.Errorf("%q: exit %d after %s: %s", args, code, took, errs)
		}
		if took > 30*time.Second {
			t.Errorf("%q: took %s", args, took)
		}
		t.Logf("%q: %s: %s", args, took.Round(time.Millisecond), strings.TrimSpace(errs))
	}
	start := time.Now()
	code, _, errs := fsnap(t, "ls", "--timeout", "1s", "--request-timeout", "1h", s3)
	if took := time.Since(start); code != exitInput || !strings.Contains(errs, "gave up after 1s (--timeout)") || took > 10*time.Second {
		t.Errorf("--timeout: exit %d after %s: %s", code, took, errs)
	}
}
