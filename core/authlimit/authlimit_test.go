package authlimit

import (
	"net/http/httptest"
	"testing"
	"time"
)

func TestLimitPerAddressAndWindow(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	l := New(3, time.Minute)
	l.now = func() time.Time { return now }
	a := httptest.NewRequest("GET", "/", nil)
	a.RemoteAddr = "192.0.2.1:1000"
	a2 := httptest.NewRequest("GET", "/", nil)
	a2.RemoteAddr = "192.0.2.1:2000" // same host, another connection
	b := httptest.NewRequest("GET", "/", nil)
	b.RemoteAddr = "192.0.2.2:1000"

	for i := 0; i < 3; i++ {
		if _, blocked := l.Blocked(a, "t"); blocked {
			t.Fatalf("blocked after %d failures, want 3 allowed", i)
		}
		l.Fail(a, "t")
	}
	left, blocked := l.Blocked(a2, "t")
	if !blocked || left != time.Minute {
		t.Fatalf("after 3 failures: blocked=%v left=%s, want blocked for a minute (the port does not matter)", blocked, left)
	}
	if _, blocked := l.Blocked(b, "t"); blocked {
		t.Error("another address is blocked too")
	}
	now = now.Add(time.Minute)
	if _, blocked := l.Blocked(a, "t"); blocked {
		t.Error("still blocked once the window has passed")
	}
	l.Fail(a, "t")
	if _, blocked := l.Blocked(a, "t"); blocked {
		t.Error("one failure in a new window blocks")
	}
	rec := httptest.NewRecorder()
	Refuse(rec, 1500*time.Millisecond)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "2" {
		t.Errorf("Refuse: %d Retry-After %q, want 429 and 2", rec.Code, rec.Header().Get("Retry-After"))
	}
}

func TestNilLimiterLimitsNothing(t *testing.T) {
	var l *Limiter
	r := httptest.NewRequest("GET", "/", nil)
	l.Fail(r, "t")
	if _, blocked := l.Blocked(r, "t"); blocked {
		t.Error("a nil limiter blocks")
	}
}
