package main

import (
	"context"
	"fmt"
)

func runBackup(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("backup", "backup [-json] FILE")
	asJSON := fs.Bool("json", false, "print what was backed up as JSON")
	pos, code, ok := parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return e.usageErr(fs, "name one backup file, e.g. usmhub backup usmhub-$(date +%%F).db")
	}
	st, err := e.store(ctx)
	if err != nil {
		return e.fail(err)
	}
	info, err := st.Backup(ctx, pos[0])
	if err != nil {
		return e.fail(err)
	}
	if *asJSON {
		return e.printJSON(info)
	}
	fmt.Fprintf(e.stdout, "backed up %s to %s (%d bytes, schema version %d, integrity ok)\n", info.Source, info.Path, info.Bytes, info.SchemaVersion)
	return exitOK
}
