-- Webhooks deliver the event log: each endpoint has a cursor (the last event it got or
-- gave up on) and works through the events after it in order, so nothing is skipped
-- when the receiver is down or the gateway restarts.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    url              TEXT NOT NULL,
    -- NULL: every session of the tenant.
    session_id       TEXT REFERENCES sessions (id) ON DELETE CASCADE,
    -- JSON array of event type filters (`*`, `message.*`, `poll.vote`).
    events           TEXT NOT NULL,
    -- The signing secret, `whsec_` + base64. Never shown again after creation.
    secret           TEXT NOT NULL,
    -- JSON object of extra request headers.
    headers          TEXT NOT NULL,
    description      TEXT,
    enabled          BIGINT NOT NULL,
    disabled_reason  TEXT,
    -- The last event delivered or dead-lettered; the next delivery is after it.
    cursor           BIGINT NOT NULL,
    -- Failed attempts at the event after the cursor, and when to try it again.
    head_attempts    BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    -- When the current run of failures began (NULL while deliveries succeed).
    failing_since    BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id, id);

-- Every attempt, for the delivery log.
CREATE TABLE webhook_attempts (
    id           TEXT PRIMARY KEY,
    webhook_id   TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id     BIGINT NOT NULL,
    attempt      BIGINT NOT NULL,
    -- NULL when no answer came (connection refused, timeout).
    status_code  BIGINT,
    latency_ms   BIGINT NOT NULL,
    error        TEXT,
    at           BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id);

-- Events given up on after the last retry; redelivered on request.
CREATE TABLE webhook_dead_letters (
    webhook_id  TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id    BIGINT NOT NULL,
    attempts    BIGINT NOT NULL,
    last_error  TEXT,
    at          BIGINT NOT NULL,
    PRIMARY KEY (webhook_id, event_id)
);
