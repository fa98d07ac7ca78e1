// Command usmhub-connector-file is the file connector: a usmhub connector
// plugin over a folder of CSV, JSON or Excel (.xlsx) files, the way many organisations keep
// their risk inventory and scan results (spreadsheets), and the embedded
// default that lets usmhub run with no outside service.
//
// It pulls risks, votes and scans, pushes risks back (creates, updates,
// deletes), and publishes reports as Markdown files. The hub launches it;
// run by hand it only says so. Its config block:
//
//	connector "file" "inventory" {
//	  dir         = "data"           # required: absolute, or relative to the hub config file's folder
//	  format      = "csv"            # or "json", or "xlsx" (see xlsx.go)
//	  risks_file  = "risks.csv"      # read and written
//	  votes_file  = "votes.csv"      # read only
//	  scans_file  = "scans.csv"      # read only
//	  reports_dir = "reports"        # <key>.md per published report
//	}
//
// The folder must exist: the connector never creates it, and every call
// that touches it (Check, Pull, Push, Find, Publish) fails, classed
// permanent, naming the folder, when it is missing (a typo in dir, a disk
// not mounted), rather than listing no records, which the hub would take
// for "everything was deleted". Inside the folder, a data file that is not
// there yet is an empty list (the first push creates the risks file);
// whether an empty list may delete linked records is for the hub's deletion
// guard to judge. A file whose own folder is missing, a symbolic link to
// nothing, or a file that cannot be read fails the call (source.go).
//
// Files (see table.go, risks.go, readonly.go): a CSV file has a header row;
// a JSON file is an array of objects. The risks file holds the canonical
// risk fields plus id, marker, updated_at, version and deleted, which the
// connector maintains. Every write of a file replaces it atomically (a
// temporary file, synced and renamed), under a lock file in the folder
// (.usmhub-file.lock), keeping the user's columns, row order, separator and
// byte-order mark. Pulls read a file once, row by row, sending batches, and
// not at all when it is the file the cursor saw (pull.go); pushes stream the
// old file into the new one, changing the rows they name (push.go). Neither
// holds a whole file: a batch, and a few bytes a row to tell ids apart.
//
// The package owns the data folder's files and nothing else: it knows the
// hub only through the plugin SDK.
package main

import "github.com/usmhub/usmhub/plugins/sdk"

func main() { sdk.Serve(New) }
