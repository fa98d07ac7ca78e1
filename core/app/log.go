package app

import (
	"io"
	"os"
	"os/user"

	"github.com/hashicorp/go-hclog"

	"github.com/usmhub/usmhub/core/config"
	"github.com/usmhub/usmhub/core/store"
)

// Logger is the hub's hclog logger on w, in the config's format (text
// without a config). The daemon (serving) logs at the config's level; a
// command prints its results and logs warnings and errors only, unless
// the config asks for less. A level override (USMHUB_LOG_LEVEL) wins.
func Logger(w io.Writer, cfg *config.Config, serving bool, override string) hclog.Logger {
	level, format := "warn", "text"
	if cfg != nil {
		level, format = cfg.Hub.LogLevel, cfg.Hub.LogFormat
		if !serving && hclog.LevelFromString(level) < hclog.Warn {
			level = "warn"
		}
	}
	if override != "" {
		level = override
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:       "usmhub",
		Level:      hclog.LevelFromString(level),
		Output:     w,
		JSONFormat: format == "json",
	})
}

// UserActor is who the audit trail names for changes made from the command
// line: "cli:" and the user's login ($USER, else the account's name, else
// "unknown").
func UserActor() store.Actor {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && name == "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	return store.Actor{Name: "cli:" + name}
}
