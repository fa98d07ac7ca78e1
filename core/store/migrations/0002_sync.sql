-- 0002_sync: the state of the sync engine, per binding (a sync block).
--
-- links ties a hub entity to its remote record. base is a JSON object of
-- the canonical field values both sides last agreed on; hub_version is the
-- hub row version last synced (a row whose version moved past it has hub
-- changes to push). A pending_create link is written before its create is
-- pushed, so a crash between the two is resolved with Find, never by a
-- second create.
CREATE TABLE links (
    binding        TEXT    NOT NULL,
    hub_id         TEXT    NOT NULL,
    external_id    TEXT,
    state          TEXT    NOT NULL CHECK (state IN ('pending_create', 'linked', 'quarantined', 'orphaned', 'deleted')),
    remote_version TEXT    NOT NULL DEFAULT '',
    base           TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(base)),
    hub_version    INTEGER NOT NULL DEFAULT 0,
    reason         TEXT    NOT NULL DEFAULT '',
    attempted_at   TEXT    NOT NULL DEFAULT '',
    seen_run       TEXT    NOT NULL DEFAULT '',
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (binding, hub_id)
) STRICT, WITHOUT ROWID;

CREATE UNIQUE INDEX links_external ON links (binding, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX links_state ON links (binding, state);

-- bindings holds each binding's cursor (the connector's opaque position),
-- its health and its lease: one run at a time per binding, across processes.
CREATE TABLE bindings (
    binding       TEXT    NOT NULL PRIMARY KEY,
    cursor        TEXT    NOT NULL DEFAULT '',
    full_at       TEXT    NOT NULL DEFAULT '',
    failures      INTEGER NOT NULL DEFAULT 0,
    paused_until  TEXT    NOT NULL DEFAULT '',
    last_error    TEXT    NOT NULL DEFAULT '',
    last_success  TEXT    NOT NULL DEFAULT '',
    lease_owner   TEXT    NOT NULL DEFAULT '',
    lease_until   TEXT    NOT NULL DEFAULT '',
    updated_at    TEXT    NOT NULL
) STRICT;

-- quarantine keeps remote records the hub could not take, with the reason,
-- until they change or are released.
CREATE TABLE quarantine (
    binding     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    hub_id      TEXT NOT NULL DEFAULT '',
    reason      TEXT NOT NULL,
    fields      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(fields)),
    at          TEXT NOT NULL,
    PRIMARY KEY (binding, external_id)
) STRICT, WITHOUT ROWID;

-- runs records each sync run: what it did and how it ended.
CREATE TABLE runs (
    id          TEXT NOT NULL PRIMARY KEY,
    binding     TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    counts      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(counts)),
    error       TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX runs_binding ON runs (binding, started_at);
