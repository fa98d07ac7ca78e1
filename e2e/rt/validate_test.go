package rt_test

import (
	"strings"
	"testing"
)

// `usmhub validate` reaches RT through the connector's Check and names
// what is missing and how to make it: a custom field, a queue, a catalog,
// a token RT refuses (which it never shows).
func TestValidate(t *testing.T) {
	requireRT(t)
	a := api{t}
	queue, reports, catalog := a.newRiskQueue("validate"), a.newQueue("validate-reports"), a.newCatalog("validate-bir")
	h := newHub(t, queue, reports, catalog)
	if out, errs, code := h.Run("validate"); code != 0 {
		t.Fatalf("validate of a good config: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	// A custom field the queue lacks (here: disabled for the test, and
	// enabled again after it).
	var q struct {
		TicketCustomFields []struct{ ID, Name string } `json:"TicketCustomFields"`
	}
	a.do("GET", "/queue/"+queue, nil, &q)
	cfID := ""
	for _, f := range q.TicketCustomFields {
		if f.Name == "USM source" {
			cfID = f.ID
		}
	}
	if cfID == "" {
		t.Fatalf("queue %s has no USM source custom field: %+v", queue, q)
	}
	a.do("PUT", "/customfield/"+cfID, map[string]any{"Disabled": 1}, nil)
	t.Cleanup(func() { a.do("PUT", "/customfield/"+cfID, map[string]any{"Disabled": 0}, nil) })
	b, err := h.Command("validate").CombinedOutput()
	if text := string(b); err == nil || !strings.Contains(text, `no ticket custom field "USM source"`) || !strings.Contains(text, "Admin → Custom Fields → Create") {
		t.Errorf("validate with USM source missing: %v\n%s\nwant an error naming the field and how to create it", err, text)
	}
	a.do("PUT", "/customfield/"+cfID, map[string]any{"Disabled": 0}, nil)

	for _, tc := range []struct {
		name, queue, catalog, token string
		want                        []string
	}{
		{"no queue", "NoSuchQueue", catalog, rt["RT_TOKEN"], []string{`queue "NoSuchQueue"`, "Admin → Queues → Create", "CreateTicket"}},
		{"no catalog", queue, "NoSuchCatalog", rt["RT_TOKEN"], []string{`catalog "NoSuchCatalog"`, "Admin → Assets → Catalogs → Create"}},
		{"wrong token", queue, catalog, "1-14-ffffffffffffffffffffffffffffffff", []string{"401", "Auth Tokens"}},
	} {
		h := newHub(t, tc.queue, reports, tc.catalog)
		cmd := h.Command("validate")
		cmd.Env = append(cmd.Env, "USMHUB_E2E_RT_TOKEN="+tc.token)
		b, err := cmd.CombinedOutput()
		text := string(b)
		if err == nil {
			t.Errorf("validate with %s: exit 0, want an error\n%s", tc.name, text)
		}
		for _, w := range tc.want {
			if !strings.Contains(text, w) {
				t.Errorf("validate with %s does not say %q:\n%s", tc.name, w, text)
			}
		}
		if strings.Contains(text, tc.token) {
			t.Errorf("validate with %s showed the token:\n%s", tc.name, text)
		}
	}
}
