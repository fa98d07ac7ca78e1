package rt_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usmhub/usmhub/internal/procs"
)

// The kill loop against the real RT, modelled on e2e/github's and
// e2e/redmine's: `usmhub sync risks` or its connector process is SIGKILLed
// at random moments, at least 20 times, while both sides are edited between
// the runs — the hub with `usmhub risk update` (title, likelihood), RT as a
// person would through its API (Subject, the "USM impact" custom field).
// A ledger keeps every edit. At the end the sync runs to completion and:
// every risk has exactly one ticket (0 duplicates), and the last edit of
// every field is on both sides, or lost to the field's owner in a conflict
// the audit log holds (the hub owns titles). Earlier edits of a field were
// overwritten by later ones.
//
// USMHUB_KILL_SEED replays the same choices; USMHUB_KILLS sets the number
// of SIGKILLs (20).
func TestKillLoop(t *testing.T) {
	requireRT(t)
	if testing.Short() {
		t.Skip("-short: the RT kill loop takes a minute or more")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("USMHUB_KILL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (USMHUB_KILL_SEED=%d replays the same kills and edits)", seed, seed)
	wantKills := 20
	if v, err := strconv.Atoi(os.Getenv("USMHUB_KILLS")); err == nil && v > 0 {
		wantKills = v
	}
	rnd := rand.New(rand.NewPCG(seed, 0x7274))
	const n = 20
	plugin, err := filepath.EvalSymlinks(rtPlugin)
	if err != nil {
		t.Fatal(err)
	}
	a := api{t}
	queue := a.newRiskQueue("kill")
	h := newHub(t, queue, a.newQueue("kill-reports"), a.newCatalog("kill-bir"))
	var b strings.Builder
	b.WriteString("key,title,kind,process,likelihood,impact,effort,owner,status\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "R-%d,Kill risk %d,threat,operate,%d,%d,1,ops,proposed\n", i, i, 1+i%5, 1+(i*3)%5)
	}
	h.OK("risk", "import", h.Write("risks.csv", b.String()))

	var led []edit
	kills, hubKills, pluginKills, rounds := 0, 0, 0, 0
	est := time.Second
	start := time.Now()
	deadline := start.Add(8 * time.Minute) // a safety net, not a pass criterion
	for kills < wantKills && rounds < 4*wantKills {
		rounds++
		if time.Now().After(deadline) {
			t.Errorf("the loop ran out of time after %d rounds and %d kills", rounds-1, kills)
			break
		}
		procs.WaitGone(t, plugin, 10*time.Second)
		if rounds > 1 {
			var hubTitled []string // keys whose title the hub edited this round
			for j, k := 0, rnd.IntN(3); j < k; j++ {
				key := fmt.Sprintf("R-%d", 1+rnd.IntN(n))
				e := edit{side: "hub", key: key, round: rounds}
				if rnd.IntN(2) == 0 {
					e.field, e.value = "title", fmt.Sprintf("hub %d.%d %s", rounds, j, key)
				} else {
					e.field, e.value = "likelihood", strconv.Itoa(1+rnd.IntN(5))
				}
				h.OK("risk", "update", key, "-"+e.field, e.value)
				e.at = time.Now()
				led = append(led, e)
				if e.field == "title" {
					hubTitled = append(hubTitled, key)
				}
			}
			byKey := a.risks(queue)
			for j, k := 0, rnd.IntN(3); j < k; j++ {
				key := fmt.Sprintf("R-%d", 1+rnd.IntN(n))
				both := len(hubTitled) > 0 && rnd.IntN(2) == 0
				if both {
					key = hubTitled[rnd.IntN(len(hubTitled))] // both sides change one title: a true conflict
				}
				tk, ok := byKey[key]
				if !ok {
					continue // not created yet
				}
				e := edit{side: "rt", key: key, round: rounds}
				if both || rnd.IntN(2) == 0 {
					e.field, e.value = "title", fmt.Sprintf("rt %d.%d %s", rounds, j, key)
					a.do("PUT", "/ticket/"+tk.ID, map[string]any{"Subject": e.value}, nil)
				} else {
					e.field, e.value = "impact", strconv.Itoa(1+rnd.IntN(5))
					a.do("PUT", "/ticket/"+tk.ID, map[string]any{"CustomFields": map[string]string{"USM impact": e.value}}, nil)
				}
				e.at = time.Now()
				led = append(led, e)
			}
		}
		victim := []string{"", "usmhub", "usmhub", "connector", "connector"}[rnd.IntN(5)]
		delay := 10*time.Millisecond + time.Duration(rnd.Float64()*float64(est))
		killed, took := procs.RunAndKill(t, h.Command("sync", "risks", "-json"), plugin, victim, delay, 3*time.Minute)
		if killed {
			kills++
			if victim == "usmhub" {
				hubKills++
			} else {
				pluginKills++
			}
		} else if victim == "" {
			est = min(max((est*3+took)/4, 200*time.Millisecond), 5*time.Second)
		}
	}

	// Run the sync to completion.
	procs.WaitGone(t, plugin, 10*time.Second)
	settled := false
	var last string
	for i := 0; i < 8 && !settled; i++ {
		out, errs, code := h.Run("sync", "risks", "-json")
		var res []struct {
			Counts map[string]int `json:"counts"`
		}
		json.Unmarshal([]byte(out), &res)
		settled = code == 0 && len(res) == 1 && !changed(res[0].Counts)
		last = fmt.Sprintf("exit %d %s %s", code, out, errs)
	}
	if !settled {
		t.Fatalf("8 syncs after the loop did not settle; the last: %s", last)
	}

	// 0 duplicates: one ticket per risk (a.risks reports a key twice),
	// and none without a key.
	tickets := a.tickets(queue)
	byKey := a.risks(queue)
	dups := len(tickets) - len(byKey)
	if _, ok := byKey[""]; ok || dups != 0 {
		t.Errorf("DOUBLED: %d tickets for %d keys", len(tickets), len(byKey))
	}
	hub := h.risks()
	if len(hub) != n || len(byKey) != n {
		t.Errorf("%d hub risks and %d keys in RT, want %d each", len(hub), len(byKey), n)
	}

	// Every edit accounted for.
	var audit []struct {
		EntityID string `json:"entity_id"`
		Field    string `json:"field"`
		Old      string `json:"old"`
		New      string `json:"new"`
	}
	h.JSONOf(&audit, "log")
	keyOf := map[string]string{}
	for k, r := range hub {
		keyOf[r.ID] = k
	}
	conflicts := map[string][]string{} // key/field → "old | new"
	for _, a := range audit {
		if f, ok := strings.CutPrefix(a.Field, "conflict:"); ok {
			conflicts[keyOf[a.EntityID]+"/"+f] = append(conflicts[keyOf[a.EntityID]+"/"+f], a.Old+" | "+a.New)
		}
	}
	lastEdit := map[string]edit{}
	for _, e := range led {
		lastEdit[e.key+"/"+e.field] = e
	}
	kept, overruled, lost := 0, 0, 0
	for kf, e := range lastEdit {
		tk, ok := byKey[e.key]
		if !ok {
			continue
		}
		hv, rv := hubValue(hub[e.key], e.field), rtValue(tk, e.field)
		switch {
		case hv == e.value && rv == e.value:
			kept++
		case hv == rv && holds(conflicts[kf], e.value) && holds(conflicts[kf], hv):
			overruled++
		default:
			lost++
			t.Errorf("LOST: %s edit of %s %s to %q at round %d: the hub has %q, RT %q; conflicts logged: %q", e.side, e.key, e.field, e.value, e.round, hv, rv, conflicts[kf])
		}
	}
	for _, key := range slices.Sorted(maps.Keys(hub)) {
		if tk, ok := byKey[key]; ok {
			for _, fl := range []string{"title", "likelihood", "impact"} {
				if hv, rv := hubValue(hub[key], fl), rtValue(tk, fl); hv != rv {
					t.Errorf("DIVERGED: %s %s is %q in the hub, %q in RT", key, fl, hv, rv)
				}
			}
		}
	}
	t.Logf("%d SIGKILLs (%d of usmhub sync, %d of the connector) in %d rounds and %s; %d edits: last edits of %d fields, %d on both sides, %d overruled by a logged conflict, %d LOST; %d duplicates",
		kills, hubKills, pluginKills, rounds, time.Since(start).Round(time.Second), len(led), len(lastEdit), kept, overruled, lost, dups)
	if kills < 20 || hubKills == 0 || pluginKills == 0 {
		t.Errorf("only %d SIGKILLs (%d usmhub, %d connector): want at least 20, of both", kills, hubKills, pluginKills)
	}
}

// edit is one change a person made on one side.
type edit struct {
	side, key, field, value string
	round                   int
	at                      time.Time
}

func holds(entries []string, v string) bool {
	for _, e := range entries {
		if strings.Contains(e, v) {
			return true
		}
	}
	return false
}

func hubValue(r hubRisk, field string) string {
	switch field {
	case "title":
		return r.Title
	case "likelihood":
		return strconv.Itoa(r.Likelihood)
	case "impact":
		return strconv.Itoa(r.Impact)
	}
	return "?"
}

func rtValue(tk rtTicket, field string) string {
	switch field {
	case "title":
		return tk.Subject
	case "likelihood":
		return tk.cf("USM likelihood")
	case "impact":
		return tk.cf("USM impact")
	}
	return "?"
}
