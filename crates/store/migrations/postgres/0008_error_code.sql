-- Why a send failed (or why its last attempt did), as a code programs act on
-- (`not_on_whatsapp`, `refused`, `rate_limited`, `timeout`, `network`, `media_error`,
-- `invalid`); `error` keeps the words. NULL while nothing failed.
ALTER TABLE messages ADD COLUMN error_code TEXT;
