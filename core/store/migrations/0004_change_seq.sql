-- 0004_change_seq: a change sequence on risks and a high-water mark per
-- binding, so that a sync finds the risks changed since its last push with
-- an index range instead of comparing every risk with its link.
--
-- change_seq takes max(change_seq) + 1 with every insert and update of a
-- risk (writes are serialised, so the sequence only grows); pushed_seq is
-- the change_seq up to which a binding has pushed everything in its scope,
-- and pushed_scope the scope it was measured in (another filter starts over).
ALTER TABLE risks ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
UPDATE risks SET change_seq = rowid;
CREATE INDEX risks_change_seq ON risks (change_seq);

ALTER TABLE bindings ADD COLUMN pushed_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bindings ADD COLUMN pushed_scope TEXT NOT NULL DEFAULT '';
