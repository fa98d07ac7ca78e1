package rt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The whole loop on a real RT, step by step on one hub and one queue: 200
// risks become 200 tickets; changes made in RT come back; changes made in
// the hub go out (a description edit as a comment too); a field both sides
// changed goes to its owner; the request counts of the first, a quiet and
// a busy sync; a status RT's lifecycle refuses is held with RT's reason;
// 30 assets become items that risks name as affected; a report published
// twice is one ticket.
func TestSyncWithRT(t *testing.T) {
	requireRT(t)
	a := api{t}
	queue, reports := a.newRiskQueue("sync"), a.newQueue("reports")
	catalog := a.newCatalog("bir")
	h := newHub(t, queue, reports, catalog)
	const n = 200
	h.OK("risk", "import", h.inventory(n))

	counts := h.sync("risks")["risks"]
	// On a slow RT a push call may run out of time: its creates not sent
	// (or whose answers were lost) are found by marker and linked, or sent
	// again, in the same run.
	if counts["push_creates"]+counts["linked"] != n || counts["errors"] != 0 || counts["quarantined"] != 0 {
		t.Fatalf("first sync: %v, want %d creates (or creates found and linked) and no errors", counts, n)
	}
	create := h.requests()
	tickets := a.risks(queue)
	if len(tickets) != n {
		t.Fatalf("RT queue %s has %d tickets, want %d", queue, len(tickets), n)
	}
	markers := map[string]string{}
	for key, tk := range tickets {
		m := tk.cf("USM marker")
		if !strings.HasPrefix(m, "usmhub-") {
			t.Errorf("ticket %s (%s) has marker %q", tk.ID, key, m)
		}
		if other, dup := markers[m]; dup {
			t.Errorf("marker %s is on %s and %s", m, other, key)
		}
		markers[m] = key
	}
	r7 := tickets["R-7"] // likelihood 3, impact 2, effort 4, owner root, proposed
	if r7.Subject != "Risk 7: repeat incidents at desk 0" || r7.Status != "proposed" || r7.Owner.ID != "root" ||
		r7.cf("USM likelihood") != "3" || r7.cf("USM impact") != "2" || r7.cf("USM effort") != "4" || r7.cf("USM kind") != "threat" ||
		r7.cf("USM process") != "recover" || r7.cf("USM description") != "Found in the baseline scan.\nSecond line of risk 7." {
		t.Errorf("ticket of R-7 = %+v", r7)
	}
	if r9, r8 := tickets["R-9"], tickets["R-8"]; r9.Status != "accepted" || r9.Owner.ID != "ops" || r8.Owner.ID != "Nobody" {
		t.Errorf("ticket of R-9 (accepted, owner ops): status %q, owner %q; of R-8 (no owner): owner %q", r9.Status, r9.Owner.ID, r8.Owner.ID)
	}
	if c := h.sync("risks")["risks"]; changed(c) {
		t.Fatalf("second sync changed things: %v", c)
	}

	t.Run("rt_changes_come_back", func(t *testing.T) {
		a.do("PUT", "/ticket/"+tickets["R-9"].ID, map[string]any{"Status": "rejected", "Owner": "ops",
			"CustomFields": map[string]string{"USM likelihood": "2", "USM description": "Edited in RT.\nBy a person."}}, nil)
		c := h.sync("risks")["risks"]
		if c["hub_updates"] != 1 || c["errors"] != 0 {
			t.Errorf("sync after a change in RT: %v, want 1 hub update", c)
		}
		r := h.risks()["R-9"]
		if r.Status != "rejected" || r.Likelihood != 2 || r.Owner != "ops" || r.Description != "Edited in RT.\nBy a person." {
			t.Errorf("R-9 in the hub: %+v; want rejected, likelihood 2, owner ops and RT's description", r)
		}
	})

	t.Run("hub_changes_go_out", func(t *testing.T) {
		h.OK("risk", "update", "R-10", "-likelihood", "5", "-description", "Rewritten in the hub.\nTwo lines.", "-status", "accepted")
		c := h.sync("risks")["risks"]
		if c["push_updates"] != 1 || c["errors"] != 0 {
			t.Errorf("sync after a change in the hub: %v, want 1 push update", c)
		}
		tk := a.risks(queue)["R-10"]
		if tk.cf("USM likelihood") != "5" || tk.Status != "accepted" || tk.cf("USM description") != "Rewritten in the hub.\nTwo lines." {
			t.Errorf("ticket of R-10: likelihood %q, status %q, description %q", tk.cf("USM likelihood"), tk.Status, tk.cf("USM description"))
		}
		// The description edit is in RT's history as a comment, beside the
		// create's first message.
		if hist := a.history(tk.ID); slices.Index(hist, "Create") < 0 || count(hist, "Comment") != 1 {
			t.Errorf("history of ticket %s (R-10): %v, want its Create and one Comment", tk.ID, hist)
		}
	})

	t.Run("conflict_owner_wins", func(t *testing.T) {
		// Both change impact (RT owns it) and the title (the hub owns it).
		h.OK("risk", "update", "R-11", "-impact", "1", "-title", "Title from the hub")
		a.do("PUT", "/ticket/"+tickets["R-11"].ID, map[string]any{"Subject": "Title from RT", "CustomFields": map[string]string{"USM impact": "5"}}, nil)
		c := h.sync("risks")["risks"]
		if c["conflicts"] != 2 || c["errors"] != 0 {
			t.Errorf("sync with both sides changed: %v, want 2 conflicts", c)
		}
		if r := h.risks()["R-11"]; r.Impact != 5 || r.Title != "Title from the hub" {
			t.Errorf("R-11 in the hub: impact %d, title %q; want 5 (RT owns it) and the hub's title", r.Impact, r.Title)
		}
		if tk := a.risks(queue)["R-11"]; tk.cf("USM impact") != "5" || tk.Subject != "Title from the hub" {
			t.Errorf("ticket of R-11: impact %q, subject %q; want 5 and the hub's title", tk.cf("USM impact"), tk.Subject)
		}
		log := h.OK("log", "-entity", "R-11")
		for _, want := range []string{"conflict:impact", "conflict:title"} {
			if !strings.Contains(log, want) {
				t.Errorf("usmhub log -entity R-11 lacks %q:\n%s", want, log)
			}
		}
		if c := h.sync("risks")["risks"]; changed(c) {
			t.Errorf("the sync after the conflict changed things: %v", c)
		}
	})

	t.Run("request_counts", func(t *testing.T) {
		h.sync("risks") // settle
		quiet := h.countSync()
		for i := 20; i < 30; i++ {
			h.OK("risk", "update", "R-"+strconv.Itoa(i), "-likelihood", strconv.Itoa(1+(i+2)%5))
		}
		busy := h.countSync()
		t.Logf("RT requests of `usmhub sync risks` (%d risks): first sync (200 creates): %d %v; 0 changed: %d %v; 10 changed: %d %v",
			n, len(create), summary(create), len(quiet), summary(quiet), len(busy), summary(busy))
		if path := os.Getenv("USMHUB_E2E_COUNTS"); path != "" {
			os.WriteFile(path, []byte(fmt.Sprintf("create %d: %d %v\nquiet: %d %v\n%s\n\nbusy: %d %v\n%s\n", n, len(create), summary(create),
				len(quiet), summary(quiet), strings.Join(quiet, "\n"), len(busy), summary(busy), strings.Join(busy, "\n"))), 0o644)
		}
		// A quiet sync is one listing; 10 changes: one listing, and per
		// change a PUT and the read-back that catches a refused status.
		if s := summary(quiet); len(quiet) != 1 || s[0] != "GET /tickets ×1" {
			t.Errorf("a quiet sync made %d requests %v, want one listing", len(quiet), s)
		}
		if s := strings.Join(summary(busy), ", "); s != "GET /ticket/N ×10, GET /tickets ×1, PUT /ticket/N ×10" {
			t.Errorf("a sync of 10 changed risks made %s; want one listing, 10 PUTs and 10 reads", s)
		}
	})

	t.Run("refused_status_is_held", func(t *testing.T) {
		// R-12 is accepted. RT's USM lifecycle refuses in_progress →
		// rejected (work that started goes back to accepted first); the
		// hub allows it.
		id := tickets["R-12"].ID
		for _, s := range []string{"planned", "in_progress"} {
			h.OK("risk", "update", "R-12", "-status", s)
			if c := h.sync("risks")["risks"]; c["push_updates"] != 1 {
				t.Fatalf("sync of R-12 → %s: %v", s, c)
			}
		}
		h.OK("risk", "update", "R-12", "-status", "rejected", "-likelihood", "1")
		c, code := h.syncCode("risks")
		if code != 1 || c["risks"]["errors"]+c["risks"]["quarantined"] == 0 {
			t.Errorf("sync of a refused status: exit %d, counts %v; want exit 1 and the field held", code, c["risks"])
		}
		tk := a.risks(queue)["R-12"]
		if tk.Status != "in_progress" || tk.cf("USM likelihood") != "1" {
			t.Errorf("ticket %s of R-12: status %q, likelihood %q; want in_progress kept and likelihood 1 sent", id, tk.Status, tk.cf("USM likelihood"))
		}
		out, errs, _ := h.Run("status")
		if text := out + errs; !strings.Contains(text, "R-12") || !strings.Contains(text, "You can't change status from 'in_progress' to 'rejected'") {
			t.Errorf("usmhub status does not show R-12's status held with RT's reason:\n%s", text)
		}
		if r := h.risks()["R-12"]; r.Status != "rejected" {
			t.Errorf("R-12 in the hub is %q, want the hub's rejected kept", r.Status)
		}
		// The next sync sends nothing new: the field waits for a person.
		before := len(h.requests())
		h.syncCode("risks")
		for _, r := range h.requests()[before:] {
			if strings.HasPrefix(r, "PUT ") {
				t.Errorf("the sync after the refusal sent the held status again: %s", r)
			}
		}
		// A person rejects it by RT's rule (back to accepted first): both
		// sides agree, and the next sync clears the held field.
		a.do("PUT", "/ticket/"+id, map[string]any{"Status": "accepted"}, nil)
		a.do("PUT", "/ticket/"+id, map[string]any{"Status": "rejected"}, nil)
		if c, code := h.syncCode("-full", "risks"); code != 0 {
			out, errs, _ := h.Run("status")
			t.Fatalf("full sync after the person's fix: exit %d, %v\n%s%s", code, c, out, errs)
		}
		if tk := a.risks(queue)["R-12"]; tk.Status != "rejected" {
			t.Errorf("ticket of R-12 after the fix: %q, want rejected", tk.Status)
		}
		if r := h.risks()["R-12"]; r.Status != "rejected" {
			t.Errorf("R-12 in the hub after the fix: %q, want rejected", r.Status)
		}
	})

	t.Run("assets_are_items", func(t *testing.T) {
		const m = 30
		assetIDs := map[string]string{} // name → id
		for i := 1; i <= m; i++ {
			var created struct {
				ID string `json:"id"`
			}
			status := "in-use"
			if i%10 == 0 {
				status = "new"
			}
			a.do("POST", "/asset", map[string]any{"Name": fmt.Sprintf("srv-%02d", i), "Catalog": catalog, "Status": status,
				"Description": fmt.Sprintf("Server %d of the service desk.", i), "Owner": []string{"ops", "root"}[i%2],
				"CustomFields": map[string]string{"USM key": fmt.Sprintf("CI-%d", i), "USM type": "server"}}, &created)
			assetIDs[fmt.Sprintf("srv-%02d", i)] = created.ID
		}
		c := h.sync("items")["items"]
		if c["hub_creates"] != m || c["errors"] != 0 || c["quarantined"] != 0 {
			t.Fatalf("item sync: %v, want %d hub creates", c, m)
		}
		var items []struct {
			Key, Name, Type, Status, Owner, Source string
		}
		h.JSONOf(&items, "item", "list")
		byKey := map[string]int{}
		for i, it := range items {
			byKey[it.Key] = i
		}
		if len(items) != m {
			t.Fatalf("usmhub item list has %d items, want %d", len(items), m)
		}
		if it := items[byKey["CI-10"]]; it.Name != "srv-10" || it.Status != "planned" || it.Type != "server" || it.Owner != "ops" || it.Source != "rt.main" {
			t.Errorf("CI-10 = %+v", it)
		}
		// USM's fifth precondition sees both halves in RT: the workflow
		// (risks synced) and the BIR (items synced).
		out, errs, _ := h.Run("readiness", "-json")
		var checks []struct {
			Precondition   int
			Status, Reason string
		}
		if err := json.Unmarshal([]byte(out), &checks); err != nil {
			t.Fatalf("usmhub readiness -json: %v\n%s%s", err, out, errs)
		}
		for _, c := range checks {
			if c.Precondition == 5 && (c.Status != "pass" || !strings.Contains(c.Reason, "rt.main")) {
				t.Errorf("readiness precondition 5: %s: %s; want pass with the BIR from rt.main", c.Status, c.Reason)
			}
		}
		// The top risk affects two servers: risk show and the register say so.
		var list []hubRisk
		h.JSONOf(&list, "risk", "list")
		top := list[0].Key
		h.OK("risk", "update", top, "-affects", "CI-3,CI-4")
		var show struct {
			Affects []struct{ Key, Name, Status string } `json:"affects"`
		}
		h.JSONOf(&show, "risk", "show", top)
		if len(show.Affects) != 2 || show.Affects[0].Name != "srv-03" || show.Affects[1].Key != "CI-4" || show.Affects[1].Status != "in_use" {
			t.Errorf("risk show %s: affects %+v, want CI-3 (srv-03) and CI-4 in use", top, show.Affects)
		}
		if reg := h.OK("report", "register"); !strings.Contains(reg, "CI-3, CI-4") {
			t.Errorf("the register report does not list %s affecting CI-3, CI-4:\n%s", top, reg)
		}
		// An asset recycled in RT retires its item.
		a.do("PUT", "/asset/"+assetIDs["srv-04"], map[string]any{"Status": "recycled"}, nil)
		if c := h.sync("items")["items"]; c["hub_updates"] != 1 {
			t.Errorf("item sync after a recycle: %v, want 1 hub update", c)
		}
		h.JSONOf(&show, "risk", "show", top)
		if len(show.Affects) != 2 || show.Affects[1].Status != "retired" {
			t.Errorf("risk show %s after srv-04 was recycled: %+v, want CI-4 retired", top, show.Affects)
		}
		before := len(h.requests())
		if c := h.sync("items")["items"]; changed(c) {
			t.Errorf("a quiet item sync changed things: %v", c)
		}
		if s := summary(h.requests()[before:]); strings.Join(s, ", ") != "GET /assets ×1" {
			t.Errorf("a quiet item sync made %v, want one listing", s)
		}
	})

	t.Run("report_published_twice_is_one_ticket", func(t *testing.T) {
		first := h.OK("report", "register", "-publish", "rt.main")
		if !strings.HasPrefix(first, "created ") {
			t.Errorf("first publish: %q, want created", first)
		}
		second := h.OK("report", "register", "-publish", "rt.main")
		if !strings.HasPrefix(second, "updated ") {
			t.Errorf("second publish: %q, want updated", second)
		}
		list := a.tickets(reports)
		if len(list) != 1 {
			t.Fatalf("%d report tickets, want 1", len(list))
		}
		r := list[0]
		if !strings.Contains(first, "Ticket/Display.html?id="+r.ID) || r.cf("USM report key") == "" {
			t.Errorf("report ticket %s: key %q; publish said %q", r.ID, r.cf("USM report key"), first)
		}
		if hist := a.history(r.ID); count(hist, "Comment") != 1 {
			t.Errorf("report ticket %s history %v, want the second version as one comment", r.ID, hist)
		}
		if c := h.sync("risks")["risks"]; c["hub_creates"] != 0 {
			t.Errorf("the risk sync after publishing created %d hub risks", c["hub_creates"])
		}
	})
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// countSync runs `usmhub sync risks` and returns the RT requests it made.
func (h *hub) countSync() []string {
	h.T.Helper()
	before := len(h.requests())
	c := h.sync("risks")["risks"]
	if c["errors"] != 0 || c["quarantined"] != 0 {
		h.T.Errorf("sync: %v", c)
	}
	return h.requests()[before:]
}

// summary groups requests as "GET /tickets ×3" (ids as N).
func summary(reqs []string) []string {
	by := map[string]int{}
	for _, r := range reqs {
		f := strings.Fields(r)
		if len(f) < 2 {
			continue
		}
		path, _, _ := strings.Cut(f[1], "?")
		path = strings.TrimPrefix(path, "/REST/2.0")
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if _, err := strconv.Atoi(p); err == nil {
				parts[i] = "N"
			}
		}
		by[f[0]+" "+strings.Join(parts, "/")]++
	}
	var out []string
	for k, v := range by {
		out = append(out, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(out)
	return out
}
