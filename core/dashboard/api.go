package dashboard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// APIRisk is a risk as GET /v1/risks lists it: the stored risk and its
// priority score under the initiative's policy (null when unscored).
type APIRisk struct {
	model.Risk
	Score *float64 `json:"score"`
}

// apiRisks is GET /v1/risks: the matching risks ranked by priority, one
// page (?limit=, ?page=) at a time, with the total in X-Total-Count.
func (d *Dashboard) apiRisks(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	rq, err := parseRiskQuery(r.URL.Query(), in.Key)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, errorBody{Error: err.Error()})
		return nil
	}
	var (
		rows  []riskRow
		total int
	)
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		rows, total, err = rankRisks(rd, rq, d.policyOf(in), d.opts.Now())
		return err
	})
	if err != nil {
		return err
	}
	out := make([]APIRisk, len(rows))
	for i, row := range rows {
		out[i] = APIRisk{Risk: row.Risk, Score: row.Score}
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, out)
	return nil
}

// APIRiskDetail is GET /v1/risks/{key}: the risk, its votes, its records
// in the tools and its newest audit entries (newest first).
type APIRiskDetail struct {
	Risk    model.Risk         `json:"risk"`
	Score   *float64           `json:"score"`
	Votes   []model.Vote       `json:"votes"`
	Links   []APILink          `json:"links"`
	History []model.AuditEntry `json:"history"`
	Sprints []int              `json:"sprints"`
}

// APILink is a risk's record in one sync's tool.
type APILink struct {
	Sync       string `json:"sync"`
	Connector  string `json:"connector"`
	ExternalID string `json:"external_id"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
}

func (d *Dashboard) apiRisk(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var data *riskData
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		data, err = d.loadRisk(rd, r.PathValue("key"), in)
		return err
	})
	if err != nil {
		return err
	}
	out := APIRiskDetail{Risk: data.Risk, Score: data.Score, Votes: data.Votes, Links: []APILink{}, History: data.History, Sprints: data.Sprints}
	for _, l := range data.Links {
		out.Links = append(out.Links, APILink{Sync: l.Sync, Connector: l.Connector, ExternalID: l.ExternalID, State: l.State, Reason: l.Reason})
	}
	if out.Votes == nil {
		out.Votes = []model.Vote{}
	}
	if out.History == nil {
		out.History = []model.AuditEntry{}
	}
	if out.Sprints == nil {
		out.Sprints = []int{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (d *Dashboard) apiSprints(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var sprints []model.Sprint
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		sprints, err = rd.Sprints(in.Key)
		return err
	})
	if err != nil {
		return fmt.Errorf("read sprints: %w", err)
	}
	if sprints == nil {
		sprints = []model.Sprint{}
	}
	writeJSON(w, http.StatusOK, sprints)
	return nil
}

func (d *Dashboard) apiScans(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	var scans []model.Scan
	err = d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		scans, err = rd.Scans(in.Key)
		return err
	})
	if err != nil {
		return fmt.Errorf("read scans: %w", err)
	}
	if scans == nil {
		scans = []model.Scan{}
	}
	writeJSON(w, http.StatusOK, scans)
	return nil
}

// APIVote is a vote with its risk's key.
type APIVote struct {
	RiskKey string `json:"risk_key"`
	model.Vote
}

// apiVotes is GET /v1/votes: every current vote on the initiative's risks
// (or on one, ?risk=KEY), streamed as one JSON array: the risks are walked
// once and only the votes of those with votes are read.
func (d *Dashboard) apiVotes(w http.ResponseWriter, r *http.Request) error {
	in, err := d.initiative(r)
	if err != nil {
		return err
	}
	one := r.URL.Query().Get("risk")
	return d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		if one != "" {
			risk, err := rd.Risk(one)
			if err != nil {
				return &notFound{fmt.Sprintf("risk %q", one)}
			}
			votes, err := rd.Votes(risk.ID)
			if err != nil {
				return fmt.Errorf("read votes of %s: %w", risk.Key, err)
			}
			out := make([]APIVote, len(votes))
			for i, v := range votes {
				out[i] = APIVote{RiskKey: risk.Key, Vote: v}
			}
			writeJSON(w, http.StatusOK, out)
			return nil
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		bw.WriteString("[")
		first := true
		err := rd.Risks(store.RiskFilter{Initiative: in.Key}, func(risk model.Risk) error {
			if risk.Votes == 0 {
				return nil
			}
			votes, err := rd.Votes(risk.ID)
			if err != nil {
				return fmt.Errorf("read votes of %s: %w", risk.Key, err)
			}
			for _, v := range votes {
				if !first {
					bw.WriteString(",")
				}
				first = false
				if err := enc.Encode(APIVote{RiskKey: risk.Key, Vote: v}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			// The status line is out: the array stays unterminated, so the
			// client sees broken JSON rather than a short list; the log
			// says why.
			d.opts.Log.Error("GET /v1/votes failed mid-answer", "error", err)
			return nil
		}
		bw.WriteString("]\n")
		return bw.Flush()
	})
}

// APIRuns is GET /v1/runs: every sync's health and last run.
type APIRuns struct {
	At    time.Time    `json:"at"`
	Syncs []SyncHealth `json:"syncs"`
}

func (d *Dashboard) apiRuns(w http.ResponseWriter, r *http.Request) error {
	var hs []SyncHealth
	now := d.opts.Now()
	err := d.opts.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		hs, err = syncHealth(rd, d.opts.Config, now)
		return err
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, APIRuns{At: now.UTC(), Syncs: hs})
	return nil
}

func (d *Dashboard) apiSpec(w http.ResponseWriter, _ *http.Request) error {
	b, err := files.ReadFile("openapi.yaml")
	if err != nil {
		return fmt.Errorf("read openapi.yaml: %w", err)
	}
	w.Header().Set("Content-Type", "application/yaml")
	_, err = w.Write(b)
	return err
}
