package inventory

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/usmhub/usmhub/core/ingest"
	"github.com/usmhub/usmhub/core/model"
	"github.com/usmhub/usmhub/core/store"
)

// The formats an inventory exports to.
const (
	CSV  = "csv"
	JSON = "json"
	XLSX = "xlsx"
)

// Format resolves an export's format: the one asked for, else xlsx when
// the output file's name ends in .xlsx, else csv. Any other format is an
// error that says which ones there are.
func Format(format, path string) (string, error) {
	if format == "" && strings.HasSuffix(strings.ToLower(path), ".xlsx") {
		format = XLSX
	}
	if format == "" {
		format = CSV
	}
	if format != CSV && format != JSON && format != XLSX {
		return "", fmt.Errorf("-format must be csv, json or xlsx, not %q", format)
	}
	return format, nil
}

// WriteFile runs write on path, whole or not at all: into a temporary file
// beside it, renamed into place only when write and the close succeeded. An
// empty path means stdout, written directly.
func WriteFile(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	file, err := os.CreateTemp(filepath.Dir(path), ".usmhub-export-*")
	if err != nil {
		return err
	}
	defer os.Remove(file.Name())
	if err := write(file); err != nil {
		_ = file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	return os.Rename(file.Name(), path)
}

// ExportRisks writes the matching risks in a format (CSV, JSON or XLSX) in
// the import format, from one consistent read: a file that imports back.
// The risks stream; no CSV cell starts a formula.
func ExportRisks(ctx context.Context, st store.Store, f store.RiskFilter, format string, w io.Writer) error {
	return st.View(ctx, func(r store.Reader) error { return exportRisks(r, f, format, w) })
}

func exportRisks(r store.Reader, f store.RiskFilter, format string, w io.Writer) error {
	if format == JSON {
		if _, err := io.WriteString(w, "["); err != nil {
			return err
		}
		n := 0
		err := r.Risks(f, func(risk model.Risk) error {
			b, err := json.Marshal(riskRow(risk))
			if err != nil {
				return err
			}
			sep := ",\n "
			if n == 0 {
				sep = "\n "
			}
			n++
			_, err = fmt.Fprintf(w, "%s%s", sep, b)
			return err
		})
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, "\n]\n")
		return err
	}
	if format == XLSX {
		x, err := ingest.NewXLSXWriter("risks", ingest.RiskColumns)
		if err != nil {
			return err
		}
		if err := r.Risks(f, func(risk model.Risk) error { return x.Write(riskRow(risk)) }); err != nil {
			return err
		}
		return x.Close(w)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ingest.RiskColumns); err != nil {
		return err
	}
	err := r.Risks(f, func(risk model.Risk) error {
		row := riskRow(risk)
		rec := make([]string, len(ingest.RiskColumns))
		for i, c := range ingest.RiskColumns {
			rec[i] = ingest.NeutraliseFormula(fmt.Sprint(row[c])) // no cell runs in a spreadsheet
		}
		return cw.Write(rec)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// riskRow is a risk as an import row, by column.
func riskRow(r model.Risk) map[string]any {
	return map[string]any{"key": r.Key, "title": r.Title, "description": r.Description, "kind": string(r.Kind),
		"process": string(r.Process), "source": r.Source, "likelihood": r.Likelihood, "impact": r.Impact,
		"effort": r.Effort, "owner": r.Owner, "status": string(r.Status)}
}

// ExportItems writes every configuration item in a format (CSV, JSON or
// XLSX) in the import format, from one consistent read.
func ExportItems(ctx context.Context, st store.Store, format string, w io.Writer) error {
	return st.View(ctx, func(r store.Reader) error { return exportItems(r, format, w) })
}

func exportItems(r store.Reader, format string, w io.Writer) error {
	if format == JSON {
		rows := []map[string]string{}
		if err := r.Items(store.ItemFilter{}, func(it model.Item) error {
			row := map[string]string{}
			for _, f := range ingest.ItemColumns {
				row[f] = it.Field(f)
			}
			rows = append(rows, row)
			return nil
		}); err != nil {
			return err
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", " ")
		return enc.Encode(rows)
	}
	if format == XLSX {
		x, err := ingest.NewXLSXWriter("items", ingest.ItemColumns)
		if err != nil {
			return err
		}
		if err := r.Items(store.ItemFilter{}, func(it model.Item) error {
			row := make(map[string]any, len(ingest.ItemColumns))
			for _, f := range ingest.ItemColumns {
				row[f] = it.Field(f)
			}
			return x.Write(row)
		}); err != nil {
			return err
		}
		return x.Close(w)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(ingest.ItemColumns); err != nil {
		return err
	}
	if err := r.Items(store.ItemFilter{}, func(it model.Item) error {
		rec := make([]string, len(ingest.ItemColumns))
		for i, f := range ingest.ItemColumns {
			rec[i] = ingest.NeutraliseFormula(it.Field(f)) // no cell runs in a spreadsheet
		}
		return cw.Write(rec)
	}); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}
