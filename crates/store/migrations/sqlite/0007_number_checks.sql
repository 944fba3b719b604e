-- What WhatsApp answered when a session asked whether a number has an account, so the
-- first send to a contact asks once and later sends go by the answer while it is fresh.
CREATE TABLE number_checks (
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- E.164.
    phone        TEXT NOT NULL,
    -- 1: the number has an account; 0: it has none.
    on_whatsapp  BIGINT NOT NULL,
    -- The account's JID, when there is one.
    jid          TEXT,
    checked_at   BIGINT NOT NULL,
    PRIMARY KEY (session_id, phone)
);
