-- Campaigns: one message template sent to many recipients through one or several
-- sessions. Recipients are fed into the sessions' queues a few at a time, each in the
-- transaction that creates its message, so a crash never sends one twice or skips one.
CREATE TABLE campaigns (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id),
    name          TEXT NOT NULL,
    -- `running`, `paused`, `cancelled` or `completed`.
    status        TEXT NOT NULL,
    -- The message every recipient gets, `{{variables}}` filled in per recipient.
    kind          TEXT NOT NULL,
    content       TEXT NOT NULL,
    -- JSON array of the ids of the sessions it is spread over.
    sessions      TEXT NOT NULL,
    priority      BIGINT NOT NULL,
    start_at      BIGINT NOT NULL,
    -- Recipients after duplicates were dropped, and how many were dropped.
    total         BIGINT NOT NULL,
    duplicates    BIGINT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    completed_at  BIGINT
);
CREATE INDEX campaigns_tenant ON campaigns (tenant_id, id);
CREATE INDEX campaigns_status ON campaigns (status, start_at);

CREATE TABLE campaign_recipients (
    campaign_id  TEXT NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    -- Order in the list given, from 0.
    position     BIGINT NOT NULL,
    -- E.164 for phone numbers, else the JID.
    recipient    TEXT NOT NULL,
    chat         TEXT NOT NULL,
    -- JSON object of the recipient's `{{variables}}`.
    variables    TEXT NOT NULL,
    -- `pending` (not in a queue yet), `queued` (its message exists) or `cancelled`.
    status       TEXT NOT NULL,
    session_id   TEXT,
    message_id   TEXT,
    PRIMARY KEY (campaign_id, position),
    UNIQUE (campaign_id, recipient)
);
CREATE INDEX campaign_recipients_status ON campaign_recipients (campaign_id, status, position);
CREATE INDEX campaign_recipients_session ON campaign_recipients (campaign_id, session_id, status);
