package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// refreshServer answers /whoami for its current token, M_UNKNOWN_TOKEN
// (soft_logout as set) for any other, and /refresh for its refresh
// token, rotating both.
type refreshServer struct {
	mu         sync.Mutex
	access     string
	refresh    string
	softLogout bool
	refreshes  atomic.Int32
	uploads    atomic.Int32
	n          int
}

func (s *refreshServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if strings.HasSuffix(r.URL.Path, "/refresh") {
		var b struct {
			RefreshToken string `json:"refresh_token"`
		}
		json.NewDecoder(r.Body).Decode(&b)
		if r.Header.Get("Authorization") != "" || b.RefreshToken != s.refresh {
			w.WriteHeader(401)
			io.WriteString(w, `{"errcode":"M_UNKNOWN_TOKEN","error":"bad refresh token"}`)
			return
		}
		s.refreshes.Add(1)
		s.n++
		s.access, s.refresh = "at"+string(rune('0'+s.n)), "rt"+string(rune('0'+s.n))
		json.NewEncoder(w).Encode(map[string]any{"access_token": s.access, "refresh_token": s.refresh, "expires_in_ms": 1000})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.access {
		w.WriteHeader(401)
		json.NewEncoder(w).Encode(map[string]any{"errcode": "M_UNKNOWN_TOKEN", "error": "expired", "soft_logout": s.softLogout})
		return
	}
	if strings.HasSuffix(r.URL.Path, "/upload") {
		s.uploads.Add(1)
		b, _ := io.ReadAll(r.Body)
		if string(b) != "payload" {
			w.WriteHeader(400)
			io.WriteString(w, `{"errcode":"M_BAD_JSON","error":"body lost"}`)
			return
		}
		io.WriteString(w, `{"content_uri":"mxc://example.org/abc"}`)
		return
	}
	io.WriteString(w, `{"user_id":"@a:example.org"}`)
}

func TestRefreshOnSoftLogout(t *testing.T) {
	ctx := context.Background()
	srv := &refreshServer{access: "at-new", refresh: "rt0", softLogout: true}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// soft_logout false: the session is over, no refresh.
	srv.softLogout = false
	c, _ := New(ts.URL, "expired")
	c.RefreshToken = "rt0"
	if _, err := c.WhoAmI(ctx); !IsCode(err, CodeUnknownToken) || srv.refreshes.Load() != 0 {
		t.Fatalf("hard logout: %v, %d refreshes", err, srv.refreshes.Load())
	}
	srv.softLogout = true

	// Without a refresh token: the error.
	c2, _ := New(ts.URL, "expired")
	if _, err := c2.WhoAmI(ctx); !IsCode(err, CodeUnknownToken) || srv.refreshes.Load() != 0 {
		t.Fatalf("no refresh token: %v", err)
	}

	// Concurrent requests that fail together refresh once.
	var hooked atomic.Int32
	c.OnTokenRefresh = func(context.Context, *RefreshedTokens) { hooked.Add(1) }
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := c.WhoAmI(ctx)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if srv.refreshes.Load() != 1 || hooked.Load() != 1 || c.AccessToken != "at1" || c.RefreshToken != "rt1" {
		t.Fatalf("%d refreshes, %d hook calls, tokens %q %q", srv.refreshes.Load(), hooked.Load(), c.AccessToken, c.RefreshToken)
	}

	// An upload's body is sent again after the refresh.
	srv.mu.Lock()
	srv.access = "rotated-away"
	srv.mu.Unlock()
	uri, err := c.Upload(ctx, strings.NewReader("payload"), 7, "text/plain", "")
	if err != nil || uri != "mxc://example.org/abc" || srv.refreshes.Load() != 2 {
		t.Fatalf("upload after refresh: %q %v (%d refreshes)", uri, err, srv.refreshes.Load())
	}

	// A refresh that fails returns the original error, wrapped.
	srv.mu.Lock()
	srv.access, srv.refresh = "gone", "other"
	srv.mu.Unlock()
	_, err = c.WhoAmI(ctx)
	if !IsCode(err, CodeUnknownToken) || !strings.Contains(err.Error(), "refreshing the access token") {
		t.Fatalf("failed refresh: %v", err)
	}
}
