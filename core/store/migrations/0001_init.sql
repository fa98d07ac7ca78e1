-- 0001_init: the risk database, votes, sprints, scans and the audit trail.
--
-- Timestamps are UTC text of fixed width (2006-01-02T15:04:05.000000000Z),
-- so text order is time order. Tables are STRICT: a value of the wrong type
-- is refused instead of stored.

-- risks is the risk database. seq is the n of an R-n key (NULL for keys of
-- another form); the next generated key is R-(max(seq)+1), one sequence per
-- database. Risks are listed in rowid order, which is creation order.
CREATE TABLE risks (
    id          TEXT    NOT NULL PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    seq         INTEGER,
    initiative  TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    process     TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    likelihood  INTEGER NOT NULL,
    impact      INTEGER NOT NULL,
    effort      REAL    NOT NULL DEFAULT 0,
    owner       TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    votes       INTEGER NOT NULL DEFAULT 0,
    version     INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
) STRICT;

CREATE INDEX risks_initiative_title ON risks (initiative, title);
-- Entries are ordered (initiative, rowid): an initiative's risks stream in
-- creation order without a sort.
CREATE INDEX risks_initiative ON risks (initiative);
CREATE INDEX risks_seq ON risks (seq);

-- votes holds the current vote of each sounding-board member on a risk; the
-- risk's votes column is the sum of their weights.
CREATE TABLE votes (
    risk_id TEXT    NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    voter   TEXT    NOT NULL,
    weight  INTEGER NOT NULL CHECK (weight >= 1),
    cast_at TEXT    NOT NULL,
    PRIMARY KEY (risk_id, voter)
) STRICT, WITHOUT ROWID;

CREATE INDEX votes_voter ON votes (voter);

CREATE TABLE sprints (
    id         TEXT    NOT NULL PRIMARY KEY,
    initiative TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    goal       TEXT    NOT NULL DEFAULT '',
    "start"    TEXT    NOT NULL,
    "end"      TEXT    NOT NULL,
    capacity   REAL    NOT NULL,
    used       REAL    NOT NULL DEFAULT 0,
    status     TEXT    NOT NULL,
    policy     TEXT    NOT NULL DEFAULT '',
    version    INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    UNIQUE (initiative, number)
) STRICT;

-- sprint_items are a sprint's risks in the order they were chosen, each with
-- the score and effort it had then.
CREATE TABLE sprint_items (
    sprint_id TEXT    NOT NULL REFERENCES sprints (id) ON DELETE CASCADE,
    position  INTEGER NOT NULL,
    risk_id   TEXT    NOT NULL REFERENCES risks (id),
    key       TEXT    NOT NULL,
    title     TEXT    NOT NULL DEFAULT '',
    score     REAL    NOT NULL,
    effort    REAL    NOT NULL,
    PRIMARY KEY (sprint_id, position),
    UNIQUE (sprint_id, risk_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX sprint_items_risk ON sprint_items (risk_id);

-- scans are measurements of an initiative; findings is a JSON array of text.
CREATE TABLE scans (
    id             TEXT NOT NULL PRIMARY KEY,
    initiative     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    method         TEXT NOT NULL,
    method_version TEXT NOT NULL,
    taken_on       TEXT NOT NULL,
    findings       TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(findings)),
    created_at     TEXT NOT NULL
) STRICT;

CREATE INDEX scans_initiative_taken_on ON scans (initiative, taken_on);

CREATE TABLE scan_scores (
    scan_id     TEXT    NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    dimension   TEXT    NOT NULL,
    score       REAL    NOT NULL,
    respondents INTEGER NOT NULL DEFAULT 0,
    note        TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (scan_id, position),
    UNIQUE (scan_id, dimension)
) STRICT, WITHOUT ROWID;

-- audit records every change of every field: who (actor, and the sync run
-- when a run made it), when, which entity, old and new value as text.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    run_id    TEXT NOT NULL DEFAULT '',
    entity    TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    field     TEXT NOT NULL,
    old       TEXT NOT NULL DEFAULT '',
    new       TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX audit_entity_id ON audit (entity_id);
CREATE INDEX audit_run_id ON audit (run_id);
CREATE INDEX audit_at ON audit (at);
