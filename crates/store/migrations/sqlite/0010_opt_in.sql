-- Consent: whether each contact agreed to get a session's messages, how that came to be
-- (an audit trail), and the tenant's numbers that nothing is ever sent to.

-- Who queued an outbound message when no API client did (`opt_in`, `auto_reply`);
-- NULL for messages sent through the API.
ALTER TABLE messages ADD COLUMN origin TEXT;

CREATE TABLE opt_ins (
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- E.164 for phone numbers, else the JID.
    contact     TEXT NOT NULL,
    -- `pending`, `yes` or `no`.
    status      TEXT NOT NULL,
    changed_at  BIGINT NOT NULL,
    PRIMARY KEY (session_id, contact)
);
CREATE INDEX opt_ins_status ON opt_ins (session_id, status, contact);

-- Every change of an opt-in, never updated or deleted while the session lives.
CREATE TABLE opt_in_changes (
    id          TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    contact     TEXT NOT NULL,
    status      TEXT NOT NULL,
    -- `reply` (answered the prompt), `keyword` (STOP, START, …), `first_message`, `api`.
    how         TEXT NOT NULL,
    -- The API key that made an `api` change (its name and id); NULL for the contact.
    actor       TEXT,
    -- The text the contact sent, or the note an API client gave.
    note        TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX opt_in_changes_contact ON opt_in_changes (session_id, contact, id);

CREATE TABLE suppressions (
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    -- E.164.
    phone       TEXT NOT NULL,
    reason      TEXT,
    actor       TEXT,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, phone)
);
