-- Media files: what clients gave to send (images re-encoded, stickers made) and what
-- sessions received. The bytes live in a file named after `id` in the media directory,
-- written and synced before this row is inserted, so a row never points at a missing
-- file (a crash in between leaves an orphan file, nothing worse).
CREATE TABLE media (
    -- A UUIDv7 for media clients send; the received message's id for inbound media.
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id),
    -- image, video, audio, document or sticker.
    kind        TEXT NOT NULL,
    -- What the bytes really are (sniffed), not what the client claimed.
    mimetype    TEXT NOT NULL,
    size        BIGINT NOT NULL,
    -- Hex SHA-256 of the bytes, as WhatsApp's media upload wants it.
    sha256      TEXT NOT NULL,
    filename    TEXT,
    width       BIGINT,
    height      BIGINT,
    seconds     BIGINT,
    -- A small JPEG shown before the file is downloaded (images; videos when one could be made).
    thumbnail   BYTEA,
    created_at  BIGINT NOT NULL
);
CREATE INDEX media_tenant ON media (tenant_id, created_at);
