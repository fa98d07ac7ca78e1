package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/usmhub/usmhub/plugins/sdk"
)

// TicketSQL reads "…T…Z" as midnight: searches must send "YYYY-MM-DD HH:MM:SS" in UTC.
func TestRTTimeIsExactUTC(t *testing.T) {
	at := time.Date(2026, 11, 27, 15, 5, 31, 0, time.FixedZone("CET", 3600))
	if got, want := rtTime(at), "2026-11-27 14:05:31"; got != want {
		t.Fatalf("rtTime = %q, want %q", got, want)
	}
}

// The cursor skips exactly the records it sent with the newest stamp, as
// it sent them, and the next search starts in that second (widened by the
// lookback).
func TestCursorSameSecond(t *testing.T) {
	var c cursor
	c.advance("2026-12-06T07:19:04Z", "7", "v7")
	c.advance("2026-12-06T07:19:04Z", "8", "v8")
	if !c.seen("2026-12-06T07:19:04Z", "7", "v7") || !c.seen("2026-12-06T07:19:04Z", "8", "v8") {
		t.Fatalf("cursor %v forgot a record it sent", c)
	}
	if c.seen("2026-12-06T07:19:04Z", "9", "v9") {
		t.Fatal("a record of the same second that was not sent counts as seen: it would be lost")
	}
	if c.seen("2026-12-06T07:19:04Z", "7", "v7b") {
		t.Fatal("a record changed again within the second it was sent in counts as seen: the edit would be lost")
	}
	c.advance("2026-12-06T07:19:05Z", "9", "v9")
	if c.seen("2026-12-06T07:19:04Z", "7", "v7") || !c.seen("2026-12-06T07:19:05Z", "9", "v9") {
		t.Fatalf("cursor %v did not move to the newer second", c)
	}
	back, err := parseCursor(c.String())
	if err != nil || back.String() != c.String() {
		t.Fatalf("cursor round trip: %v, %v", back, err)
	}
	if s, ok := back.since(2 * time.Second); !ok || s != "2026-12-06 07:19:03" {
		t.Fatalf("since = %q %v, want 2026-12-06 07:19:03", s, ok)
	}
	if _, err := parseCursor("not json"); sdk.ClassOf(err) != sdk.ClassInvalid {
		t.Fatalf("a foreign cursor = %v, want an invalid-class error", err)
	}
}

// Two states of a ticket in the same second have different versions; the
// same state always has the same version.
func TestRecordVersionSeesSameSecondEdits(t *testing.T) {
	f := map[string]string{sdk.FieldTitle: "a", sdk.FieldImpact: "3"}
	v1 := recordVersion("2026-12-06T07:19:04Z", "m", f)
	if v1 != recordVersion("2026-12-06T07:19:04Z", "m", map[string]string{sdk.FieldImpact: "3", sdk.FieldTitle: "a"}) {
		t.Fatal("the same fields gave two versions")
	}
	f[sdk.FieldImpact] = "4"
	if recordVersion("2026-12-06T07:19:04Z", "m", f) == v1 {
		t.Fatal("an edit in the same second kept the version: the hub would take it for its own echo")
	}
}

// RT writes ids as strings in collections and as numbers in single records.
func TestRTIDStringOrNumber(t *testing.T) {
	var v struct{ A, B rtID }
	if err := json.Unmarshal([]byte(`{"A":"12","B":12}`), &v); err != nil || v.A != "12" || v.B != "12" {
		t.Fatalf("got %+v, %v", v, err)
	}
	if err := json.Unmarshal([]byte(`{"A":true}`), &v); err == nil {
		t.Fatal("a bool id was accepted")
	}
}

func TestTicketSQLQuoting(t *testing.T) {
	if got, want := tsql(`it's a \ b`), `it\'s a \\ b`; got != want {
		t.Fatalf("tsql = %q, want %q", got, want)
	}
}

func TestCheckRiskRefusesWhatCannotComeBack(t *testing.T) {
	for _, f := range []map[string]string{{sdk.FieldImpact: "6"}, {sdk.FieldLikelihood: "x"}, {sdk.FieldEffort: "-1"}, {sdk.FieldTitle: "  "}} {
		if e := checkRisk(f); e == nil || e.Class != sdk.ClassInvalid {
			t.Errorf("checkRisk(%v) = %v, want an invalid-class error", f, e)
		}
	}
	if e := checkRisk(map[string]string{sdk.FieldImpact: "5", sdk.FieldEffort: "0.5", sdk.FieldTitle: "t"}); e != nil {
		t.Errorf("good fields refused: %v", e)
	}
}

// After a full page the listing goes on from the cursor's second when the
// cursor moved, and to the next page of the same query when it did not.
func TestNextPageIsKeyset(t *testing.T) {
	var c cursor
	c.advance("2026-12-06T07:19:04Z", "7", "v7")
	if from, page := nextPage(c, "", 1); from != "2026-12-06 07:19:04" || page != 1 {
		t.Errorf("after a first page: from %q page %d, want the cursor's second, page 1", from, page)
	}
	if from, page := nextPage(c, "2026-12-06 07:19:04", 1); from != "2026-12-06 07:19:04" || page != 2 {
		t.Errorf("after a page of one second: from %q page %d, want the same query, page 2", from, page)
	}
}
