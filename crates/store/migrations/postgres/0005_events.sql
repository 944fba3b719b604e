-- The event log: what happened, in the order it happened, per tenant. Events are
-- written in the same transaction as the change they tell of, so a change is never
-- stored without its event. Webhooks and live streams deliver from here.

-- The newest event id of each tenant. Taking the next ids locks the tenant's row until
-- the transaction ends, so events become visible in id order: a reader that saw id N
-- never later finds an event below N.
CREATE TABLE event_counters (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id),
    last_id    BIGINT NOT NULL
);

CREATE TABLE events (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    -- 1, 2, 3… per tenant, without gaps.
    id          BIGINT NOT NULL,
    -- The session it happened to, if any. No foreign key: the log outlives a deleted
    -- session.
    session_id  TEXT,
    -- The session's name when it happened.
    session     TEXT,
    -- `message.received`, `message.reaction`, `group.participants`, …
    type        TEXT NOT NULL,
    -- The event's document as clients get it (JSON); never secrets.
    data        TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX events_session ON events (tenant_id, session_id, id);
