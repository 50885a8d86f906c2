package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkGarbageSignedBodies measures the memory of the homeserver (a
// child process) while 32 clients at once send it 16 MiB request bodies
// with garbage X-Matrix signatures, on the federation listener: once from
// an origin whose key cannot be fetched (refused before the body is read)
// and once naming the server's own key (the body must be read to check the
// signature, within the federation budget). It reports the peak resident
// set (VmHWM) and the resident set after the requests (VmRSS), in MiB.
// Run with -benchtime=1x; figures are in BENCHMARKS.md.
func BenchmarkGarbageSignedBodies(b *testing.B) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		b.Skip("needs /proc")
	}
	for _, c := range []struct{ name, origin string }{
		{"unknown-origin", "attacker.invalid"},
		{"own-key-bad-signature", "bench.test"},
	} {
		b.Run(c.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			fedAddr := ln.Addr().String()
			ln.Close()
			dir := b.TempDir()
			p := startProc(b, "--server-name", "bench.test", "--listen", "127.0.0.1:0", "--federation-listen", fedAddr,
				"--db", filepath.Join(dir, "hs.db"), "--key", filepath.Join(dir, "hs.key"))
			keyID := serverKeyID(b, fedAddr)
			header := fmt.Sprintf(`X-Matrix origin="%s",destination="bench.test",key="%s",sig="Z2FyYmFnZWdhcmJhZ2VnYXJiYWdlZ2FyYmFnZWdhcmJhZ2VnYXJiYWdlZ2FyYmFnZWdhcmJhZ2VnYXJiYWdlZ2FyYmFnZWdhcmJhZ2VnYXJiYQ"`, c.origin, keyID)
			body := bytes.Repeat([]byte("x"), 16<<20-8)
			body = append(append([]byte(`{"a":"`), body...), `"}`...)
			var peak, after float64
			for i := 0; i < b.N; i++ {
				var wg sync.WaitGroup
				statuses := make([]int, 32)
				for j := range statuses {
					wg.Add(1)
					go func() {
						defer wg.Done()
						statuses[j] = putBody(fedAddr, header, body)
					}()
				}
				wg.Wait()
				for _, s := range statuses {
					if s != 401 && s != 503 && s != 413 {
						b.Fatalf("garbage-signed request answered %d", s)
					}
				}
				time.Sleep(time.Second)
				peak, after = procMemMiB(b, p.cmd.Process.Pid)
			}
			b.ReportMetric(peak, "peak-RSS-MiB")
			b.ReportMetric(after, "RSS-after-MiB")
		})
	}
}

// serverKeyID reads the server's own key ID from /_matrix/key/v2/server.
func serverKeyID(b *testing.B, addr string) string {
	resp, err := http.Get("http://" + addr + "/_matrix/key/v2/server")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var keys struct {
		VerifyKeys map[string]json.RawMessage `json:"verify_keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		b.Fatal(err)
	}
	for id := range keys.VerifyKeys {
		return id
	}
	b.Fatal("no verify key")
	return ""
}

// putBody sends a /send transaction with the given Authorization header and
// returns the status (0 when the connection failed).
func putBody(addr, auth string, body []byte) int {
	req, _ := http.NewRequest("PUT", "http://"+addr+"/_matrix/federation/v1/send/garbage", bytes.NewReader(body))
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// procMemMiB returns VmHWM and VmRSS of a process, in MiB.
func procMemMiB(b *testing.B, pid int) (hwm, rss float64) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmHWM:":
			hwm = kb / 1024
		case "VmRSS:":
			rss = kb / 1024
		}
	}
	return hwm, rss
}
