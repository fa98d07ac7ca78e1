-- 0003_holds: per-field quarantine, and what a pause was caused by.
--
-- held is a JSON object of the fields of a linked record that wait, by
-- field name: {"status": {"side": "pull", "value": "Accepted", "reason": "…"}}.
-- A pull hold is a remote value the hub cannot take (an illegal status
-- move); a push hold is a hub value the remote refused. The record's other
-- fields sync as usual; base never moves for a held field.
ALTER TABLE links ADD COLUMN held TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(held));
CREATE INDEX links_held ON links (binding) WHERE held != '{}';

-- paused_fingerprint is the fingerprint of the connector's configuration
-- (secrets included) when a failure the connector called permanent paused
-- the binding: a run with another fingerprint (the key was fixed) may go.
ALTER TABLE bindings ADD COLUMN paused_fingerprint TEXT NOT NULL DEFAULT '';
