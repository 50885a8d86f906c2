package mxerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriteMatrixError(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, fmt.Errorf("wrapped: %w", New(http.StatusForbidden, Forbidden, "no")))
	if rec.Code != 403 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["errcode"] != "M_FORBIDDEN" || body["error"] != "no" || len(body) != 2 {
		t.Fatalf("body %v", body)
	}
}

func TestWriteHidesInternalErrors(t *testing.T) {
	rec := httptest.NewRecorder()
	Write(rec, errors.New("database password is hunter2"))
	if rec.Code != 500 {
		t.Fatalf("status %d", rec.Code)
	}
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	if body["errcode"] != "M_UNKNOWN" || body["error"] != "internal server error" {
		t.Fatalf("body %v", body)
	}
}

func TestLimitExceeded(t *testing.T) {
	rec := httptest.NewRecorder()
	e := &Error{Status: 429, Code: LimitExceeded, Message: "slow down", RetryAfter: 1500 * time.Millisecond}
	Write(rec, e)
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2 (rounded up)", got)
	}
	var body map[string]any
	json.Unmarshal(rec.Body.Bytes(), &body)
	if body["retry_after_ms"] != float64(1500) {
		t.Fatalf("body %v", body)
	}
	back := FromResponse(rec.Code, rec.Body.Bytes(), rec.Header())
	if back.Code != LimitExceeded || back.RetryAfter != 2*time.Second || back.Message != "slow down" {
		t.Fatalf("FromResponse = %+v", back)
	}
}

func TestExtraFieldsNeverOverride(t *testing.T) {
	e := New(400, IncompatibleRoomVersion, "no").With("room_version", "12").With("errcode", "M_EVIL")
	var body map[string]any
	json.Unmarshal(e.Body(), &body)
	if body["errcode"] != IncompatibleRoomVersion || body["room_version"] != "12" {
		t.Fatalf("body %v", body)
	}
	if e2 := New(401, UnknownToken, "x"); e2.Fields != nil {
		t.Fatal("New set fields")
	}
}

func TestFromResponseNotMatrix(t *testing.T) {
	e := FromResponse(502, []byte("<html>bad gateway</html>"), http.Header{})
	if e.Code != Unknown || e.Status != 502 || e.Message != "Bad Gateway" {
		t.Fatalf("%+v", e)
	}
	if e.Error() != "M_UNKNOWN: Bad Gateway" {
		t.Fatalf("Error() = %q", e.Error())
	}
}

// FuzzFromResponse: any remote body and Retry-After header give an Error
// without panicking, whose errcode and message survive a round trip.
func FuzzFromResponse(f *testing.F) {
	f.Add(429, []byte(`{"errcode":"M_LIMIT_EXCEEDED","error":"x","retry_after_ms":1500}`), "2")
	f.Add(400, []byte(`{"errcode":"M_INCOMPATIBLE_ROOM_VERSION","error":"","room_version":"12"}`), "")
	f.Add(502, []byte(`<html>`), "-1")
	f.Add(401, []byte(`{"errcode":5,"error":null,"soft_logout":true}`), "99999999999999999999")
	f.Fuzz(func(t *testing.T, status int, body []byte, retryAfter string) {
		h := http.Header{}
		h.Set("Retry-After", retryAfter)
		e := FromResponse(status, body, h)
		if e == nil || e.Status != status || e.Code == "" && json.Valid(body) && !strings.Contains(string(body), `"errcode"`) {
			t.Fatalf("FromResponse(%d, %q) = %+v", status, body, e)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("negative RetryAfter %v", e.RetryAfter)
		}
		// Written back, the Retry-After header and retry_after_ms are
		// never negative (a huge value saturates instead of wrapping).
		w := httptest.NewRecorder()
		limited := *e
		limited.Status = http.StatusTooManyRequests // any status http accepts
		Write(w, &limited)
		if ra := w.Header().Get("Retry-After"); ra != "" {
			if secs, err := strconv.ParseInt(ra, 10, 64); err != nil || secs <= 0 {
				t.Fatalf("Retry-After %q for %v", ra, e.RetryAfter)
			}
		}
		if again := FromResponse(status, w.Body.Bytes(), w.Header()); again.RetryAfter < e.RetryAfter/time.Second*time.Second {
			t.Fatalf("RetryAfter %v written and read back as %v", e.RetryAfter, again.RetryAfter)
		}
		back := FromResponse(status, e.Body(), http.Header{})
		if back.Code != e.Code || back.Message != e.Message {
			t.Fatalf("round trip: %+v -> %+v", e, back)
		}
	})
}
