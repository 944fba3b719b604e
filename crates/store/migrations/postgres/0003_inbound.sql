-- Received messages live in `messages` beside the sent ones: direction 'inbound',
-- status 'received'. For them `sender` is who wrote the message (in a group, the
-- participant; `chat` is the group) and `sender_name` the push name the sender set on
-- their phone. Both stay NULL for outbound rows.
ALTER TABLE messages ADD COLUMN sender TEXT;
ALTER TABLE messages ADD COLUMN sender_name TEXT;

-- WhatsApp delivers a message again when its acknowledgement was lost; the copy is
-- skipped (INSERT … ON CONFLICT DO NOTHING on this index). A message id is unique only
-- per chat and sender, so all three are part of the key.
CREATE UNIQUE INDEX messages_inbound ON messages (session_id, chat, sender, wa_id)
    WHERE direction = 'inbound';

-- Whoever wrote to a session, kept up to date in the transaction that stores their
-- messages.
CREATE TABLE contacts (
    tenant_id          TEXT NOT NULL REFERENCES tenants (id),
    session_id         TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    -- The sender's JID (`…@s.whatsapp.net`, `…@lid`).
    jid                TEXT NOT NULL,
    -- E.164 when the JID is a phone number's.
    phone              TEXT,
    push_name          TEXT,
    -- When wagate first and last stored a message from them.
    first_seen_at      BIGINT NOT NULL,
    last_seen_at       BIGINT NOT NULL,
    -- WhatsApp's time of their newest message.
    last_message_at    BIGINT NOT NULL,
    messages_received  BIGINT NOT NULL,
    PRIMARY KEY (session_id, jid)
);
CREATE INDEX contacts_tenant ON contacts (tenant_id, session_id, last_message_at);
