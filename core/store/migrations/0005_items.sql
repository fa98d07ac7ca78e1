-- 0005_items: the managed infrastructure register (BIR) — configuration
-- items — and the items each risk affects.
--
-- items.seq is the n of a CI-n key (NULL for keys of another form); the
-- next generated key is CI-(max(seq)+1). source names where the item came
-- from: a sync binding's connector ("rt.main") or an inventory file
-- ("import:cmdb.csv").
CREATE TABLE items (
    id          TEXT    NOT NULL PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    seq         INTEGER,
    name        TEXT    NOT NULL,
    type        TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    owner       TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    version     INTEGER NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
) STRICT;

CREATE INDEX items_seq ON items (seq);

-- risk_affects lists, per risk, the keys of the items it affects, in the
-- order given. Keys, not ids: a risk may name an item the register does not
-- hold yet (it is imported or synced later); readers say which are missing.
CREATE TABLE risk_affects (
    risk_id  TEXT    NOT NULL REFERENCES risks (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    item_key TEXT    NOT NULL,
    PRIMARY KEY (risk_id, position),
    UNIQUE (risk_id, item_key)
) STRICT, WITHOUT ROWID;

CREATE INDEX risk_affects_item ON risk_affects (item_key);
