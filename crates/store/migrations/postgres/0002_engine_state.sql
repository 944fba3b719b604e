-- State an engine keeps for a session, opaque to wagate: for whatsapp-rust its device
-- identity, Signal sessions and keys, app-state keys and the like. Each row is one value
-- (bytes) under a (kind, key) the engine chooses, so a new engine or a new kind of state
-- needs no migration.
CREATE TABLE engine_state (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    -- Compared byte by byte (collation "C", as SQLite does), so a key prefix is a range
    -- of the primary key and both backends list keys in the same order.
    key         TEXT COLLATE "C" NOT NULL,
    value       BYTEA NOT NULL,
    -- A number the engine sweeps rows by (such as unix seconds of creation or expiry);
    -- rows without one are never swept.
    stamp       BIGINT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, kind, key)
);
-- Sweeps of expired rows (sent messages kept for retries, message secrets).
CREATE INDEX engine_state_stamp ON engine_state (session_id, kind, stamp) WHERE stamp IS NOT NULL;
