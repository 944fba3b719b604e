-- A health check writes a few pages here in a transaction it rolls back, to learn
-- whether the database has room and takes writes (a full disk, a size limit, a read-only database).
CREATE TABLE storage_probe (
    id      BIGINT PRIMARY KEY,
    filler  BYTEA NOT NULL
);
