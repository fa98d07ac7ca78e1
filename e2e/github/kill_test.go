package github_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
	"github.com/usmhub/usmhub/connectors/github/fakegithub"
	"github.com/usmhub/usmhub/internal/procs"
)

// The kill loop, modelled on e2e/redmine's TestFaultKillLoop: `usmhub sync
// risks` or its connector process is SIGKILLed at random moments, at least
// 20 times, while both sides are edited between the runs — the hub with
// `usmhub risk update` (title, likelihood), GitHub as a person in the web
// UI would (title, the impact line of the body's block) — and the fake
// fails writes after committing them (502) and meets requests with a
// secondary rate limit (403 or 429, Retry-After 1) now and then. A ledger keeps
// every edit. At the end the sync runs to completion and: every risk has
// exactly one issue (0 duplicates), and the last edit of every field is on
// both sides, or lost to the field's owner in a conflict the audit log
// holds (the hub owns titles). Earlier edits of a field were overwritten by
// later ones.
//
// USMHUB_KILL_SEED replays the same choices; USMHUB_KILLS sets the number
// of SIGKILLs (24).
func TestKillLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the GitHub kill loop takes about half a minute")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("USMHUB_KILL_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (USMHUB_KILL_SEED=%d replays the same kills, edits and faults)", seed, seed)
	wantKills := 24
	if v, err := strconv.Atoi(os.Getenv("USMHUB_KILLS")); err == nil && v > 0 {
		wantKills = v
	}
	rnd := rand.New(rand.NewPCG(seed, 0x676974))
	const n = 40
	plugin, err := filepath.EvalSymlinks(githubPlugin)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	h := newHub(t, f.BaseURL())
	var b strings.Builder
	b.WriteString("key,title,kind,process,likelihood,impact,effort,owner,status\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "R-%d,Kill risk %d,threat,operate,%d,%d,1,anna,proposed\n", i, i, 1+i%5, 1+(i*3)%5)
	}
	h.OK("risk", "import", h.Write("risks.csv", b.String()))

	var led []edit
	kills, hubKills, pluginKills, rounds := 0, 0, 0, 0
	est := 400 * time.Millisecond
	// A safety net, not a pass criterion: a run may sit out GitHub's search
	// limit (30 a minute; a burst of Finds after failed creates spends it).
	deadline := time.Now().Add(8 * time.Minute)
	for kills < wantKills && rounds < 6*wantKills {
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
			byKey := issuesByKey(f)
			for j, k := 0, rnd.IntN(3); j < k; j++ {
				key := fmt.Sprintf("R-%d", 1+rnd.IntN(n))
				both := len(hubTitled) > 0 && rnd.IntN(2) == 0
				if both {
					key = hubTitled[rnd.IntN(len(hubTitled))] // both sides change one title: a true conflict
				}
				list := byKey[key]
				if len(list) != 1 {
					continue // not created yet (or doubled: reported at the end)
				}
				e := edit{side: "github", key: key, round: rounds}
				if both || rnd.IntN(2) == 0 {
					e.field, e.value = "title", fmt.Sprintf("github %d.%d %s", rounds, j, key)
					f.Edit(owner, repo, list[0].GetNumber(), func(is *github.Issue) { is.Title = github.String(e.value) })
				} else {
					e.field, e.value = "impact", strconv.Itoa(1+rnd.IntN(5))
					f.Edit(owner, repo, list[0].GetNumber(), func(is *github.Issue) {
						is.Body = github.String(impactRE.ReplaceAllString(is.GetBody(), "- impact: "+e.value))
					})
				}
				e.at = time.Now()
				led = append(led, e)
			}
		}
		switch rnd.IntN(8) {
		case 0, 1:
			f.Inject(fakegithub.Fault{Method: []string{"POST", "PATCH"}[rnd.IntN(2)], Status: 502, AfterCommit: true})
		case 2:
			f.Inject(fakegithub.Fault{Status: []int{403, 429}[rnd.IntN(2)], RetryAfter: 1})
		}
		victim := []string{"", "usmhub", "usmhub", "connector", "connector"}[rnd.IntN(5)]
		delay := 10*time.Millisecond + time.Duration(rnd.Float64()*float64(est))
		// A run may sit out a spent search limit (≤ 61 s), hence three minutes.
		killed, took := procs.RunAndKill(t, h.Command("sync", "risks", "-json"), plugin, victim, delay, 3*time.Minute)
		if killed {
			kills++
			if victim == "usmhub" {
				hubKills++
			} else {
				pluginKills++
			}
		} else if victim == "" {
			est = min(max((est*3+took)/4, 100*time.Millisecond), 3*time.Second)
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

	// 0 duplicates: one issue per risk, none without a key.
	byKey := issuesByKey(f)
	dups := 0
	for key, list := range byKey {
		if key == "" || len(list) != 1 {
			dups += len(list) - 1
			t.Errorf("DOUBLED: key %q has %d issues", key, len(list))
		}
	}
	hub := h.risks()
	if len(hub) != n || len(byKey) != n {
		t.Errorf("%d hub risks and %d keys in GitHub, want %d each", len(hub), len(byKey), n)
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
		is := byKey[e.key]
		if len(is) != 1 {
			continue
		}
		hv, gv := hubValue(hub[e.key], e.field), githubValue(is[0], e.field)
		switch {
		case hv == e.value && gv == e.value:
			kept++
		case hv == gv && holds(conflicts[kf], e.value) && holds(conflicts[kf], hv):
			overruled++
		default:
			lost++
			t.Errorf("LOST: %s edit of %s %s to %q at round %d: the hub has %q, GitHub %q; conflicts logged: %q", e.side, e.key, e.field, e.value, e.round, hv, gv, conflicts[kf])
		}
	}
	for _, key := range slices.Sorted(maps.Keys(hub)) {
		if is := byKey[key]; len(is) == 1 {
			for _, fl := range []string{"title", "likelihood", "impact"} {
				if hv, gv := hubValue(hub[key], fl), githubValue(is[0], fl); hv != gv {
					t.Errorf("DIVERGED: %s %s is %q in the hub, %q in GitHub", key, fl, hv, gv)
				}
			}
		}
	}
	t.Logf("%d SIGKILLs (%d of usmhub sync, %d of the connector) in %d rounds; %d edits: last edits of %d fields, %d on both sides, %d overruled by a logged conflict, %d LOST; %d duplicates; fake: %+v",
		kills, hubKills, pluginKills, rounds, len(led), len(lastEdit), kept, overruled, lost, dups, f.Counts())
	if kills < 20 || hubKills == 0 || pluginKills == 0 {
		t.Errorf("only %d SIGKILLs (%d usmhub, %d connector): want at least 20, of both", kills, hubKills, pluginKills)
	}
}

var impactRE = regexp.MustCompile(`(?m)^- impact: \d$`)

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

func githubValue(is github.Issue, field string) string {
	switch field {
	case "title":
		return is.GetTitle()
	case "likelihood":
		if m := likelihoodRE.FindStringSubmatch(is.GetBody()); m != nil {
			return m[1]
		}
	case "impact":
		if m := regexp.MustCompile(`(?m)^- impact: (\d)$`).FindStringSubmatch(is.GetBody()); m != nil {
			return m[1]
		}
	}
	return "?"
}
