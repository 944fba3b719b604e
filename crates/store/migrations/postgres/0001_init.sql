-- Times are milliseconds since the Unix epoch; ids are text (UUIDv7 for rows wagate creates).

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
INSERT INTO tenants (id, name, created_at) VALUES ('default', 'Default', 0);

CREATE TABLE api_keys (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL,
    prefix        TEXT NOT NULL,
    hash          TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants (id),
    name           TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_reason  TEXT,
    phone          TEXT,
    push_name      TEXT,
    last_seen_at   BIGINT,
    settings       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE messages (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    session_id       TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    direction        TEXT NOT NULL,
    chat             TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    content          TEXT NOT NULL,
    wa_id            TEXT NOT NULL,
    status           TEXT NOT NULL,
    priority         BIGINT NOT NULL,
    send_at          BIGINT,
    next_attempt_at  BIGINT NOT NULL,
    lease_until      BIGINT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    created_at       BIGINT NOT NULL,
    queued_at        BIGINT,
    sent_at          BIGINT,
    delivered_at     BIGINT,
    read_at          BIGINT,
    played_at        BIGINT,
    failed_at        BIGINT,
    cancelled_at     BIGINT,
    updated_at       BIGINT NOT NULL
);
-- The dispatcher's queue: what waits, in send order.
CREATE INDEX messages_waiting ON messages (session_id, priority DESC, id)
    WHERE status IN ('queued', 'scheduled', 'sending');
-- Receipts find messages by WhatsApp id.
CREATE INDEX messages_wa_id ON messages (session_id, wa_id);
-- Listing, newest first.
CREATE INDEX messages_tenant ON messages (tenant_id, id);

CREATE TABLE idempotency_keys (
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    key           TEXT NOT NULL,
    request_hash  TEXT NOT NULL,
    message_id    TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_message ON idempotency_keys (message_id);
