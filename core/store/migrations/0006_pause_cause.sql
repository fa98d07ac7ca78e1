-- 0006_pause_cause: why a binding is paused (a permanent error, the tool's
-- rate limit, failures in a row), so `usmhub status` can say it beside the
-- end of the pause. Empty when not paused, and for pauses recorded before.
ALTER TABLE bindings ADD COLUMN pause_cause TEXT NOT NULL DEFAULT '';
