package reconcile

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/usmhub/usmhub/core/connector"
	"github.com/usmhub/usmhub/internal/testconnectors/fault"
)

// remoteRec is a live remote record as a test sees it.
type remoteRec struct {
	id, marker string
	fields     map[string]string
}

// side is one connector on one remote, and what a test does to that remote
// behind the hub's back (as a user of the tool would).
type side struct {
	conn connector.Connector
	dir  string
	// records returns the live records, in the remote's order.
	records func() []remoteRec
	// create adds a record with no marker and returns its external id.
	create func(fields map[string]string) string
	// edit changes fields of a record; del deletes it (a tombstone).
	edit func(id string, fields map[string]string)
	del  func(id string)
	// snapshot renders what the remote holds, to tell whether it was written.
	snapshot func() string
}

// byMarker returns the live records carrying the hub id's marker.
func (s *side) byMarker(hubID string) []remoteRec {
	var out []remoteRec
	for _, r := range s.records() {
		if r.marker == connector.Marker(hubID) {
			out = append(out, r)
		}
	}
	return out
}

func (s *side) byID(t *testing.T, id string) remoteRec {
	t.Helper()
	for _, r := range s.records() {
		if r.id == id {
			return r
		}
	}
	t.Fatalf("no live remote record %s", id)
	return remoteRec{}
}

// sides are the connectors the table tests run against: the fault
// connector in this process over gRPC and as a plugin binary, and the real
// file connector as a plugin binary.
var sides = []struct {
	name string
	make func(t *testing.T) *side
}{
	{"fault-inprocess", func(t *testing.T) *side {
		conn, dir := faultInProcess(t, nil)
		return faultSide(t, conn, dir)
	}},
	{"fault-binary", func(t *testing.T) *side {
		conn, dir := faultBinary(t, nil)
		return faultSide(t, conn, dir)
	}},
	{"file-binary", func(t *testing.T) *side {
		conn, dir := fileBinary(t)
		return fileSide(t, conn, dir)
	}},
}

func faultSide(t *testing.T, conn connector.Connector, dir string) *side {
	return &side{
		conn: conn, dir: dir,
		records: func() []remoteRec {
			var out []remoteRec
			for _, r := range remote(t, dir).Live() {
				out = append(out, remoteRec{id: r.ID, marker: r.Marker, fields: r.Fields})
			}
			return out
		},
		create: func(fields map[string]string) string {
			var id string
			editRemote(t, dir, func(s *fault.State) error { id = s.Create("", fields).ID; return nil })
			return id
		},
		edit: func(id string, fields map[string]string) {
			editRemote(t, dir, func(s *fault.State) error { _, err := s.Update(id, fields); return err })
		},
		del: func(id string) {
			editRemote(t, dir, func(s *fault.State) error { return s.Delete(id) })
		},
		snapshot: func() string {
			st := remote(t, dir)
			b, _ := json.Marshal([]any{st.Seq, st.Records, st.PushWrites})
			return string(b)
		},
	}
}

// The file connector's risks.json, edited as a person would: rows are
// objects of text cells; the connector keeps id, marker, updated_at,
// version and deleted.
func fileSide(t *testing.T, conn connector.Connector, dir string) *side {
	var handIDs int
	rows := func() []map[string]string {
		if !fileExists(dir, "risks.json") {
			return nil
		}
		return fileRows(t, dir)
	}
	return &side{
		conn: conn, dir: dir,
		records: func() []remoteRec {
			var out []remoteRec
			for _, r := range rows() {
				if r["deleted"] == "true" {
					continue
				}
				rec := remoteRec{id: r["id"], marker: r["marker"], fields: map[string]string{}}
				for _, f := range riskFields {
					rec.fields[f] = r[f] // an empty cell may be left out
				}
				out = append(out, rec)
			}
			return out
		},
		create: func(fields map[string]string) string {
			handIDs++
			id := fmt.Sprintf("HAND-%d", handIDs)
			row := map[string]string{"id": id}
			for k, v := range fields {
				row[k] = v
			}
			writeFileRows(t, dir, append(rows(), row))
			return id
		},
		edit: func(id string, fields map[string]string) {
			all := rows()
			i := slices.IndexFunc(all, func(r map[string]string) bool { return r["id"] == id })
			if i < 0 {
				t.Fatalf("no row %s in risks.json", id)
			}
			for k, v := range fields {
				all[i][k] = v
			}
			writeFileRows(t, dir, all)
		},
		del: func(id string) {
			all := rows()
			i := slices.IndexFunc(all, func(r map[string]string) bool { return r["id"] == id })
			if i < 0 {
				t.Fatalf("no row %s in risks.json", id)
			}
			all[i]["deleted"] = "true"
			writeFileRows(t, dir, all)
		},
		snapshot: func() string {
			b, _ := os.ReadFile(filepath.Join(dir, "risks.json"))
			fi, _ := os.Stat(filepath.Join(dir, "risks.json"))
			return fmt.Sprintf("%v\n%s", fi.ModTime(), b)
		},
	}
}
