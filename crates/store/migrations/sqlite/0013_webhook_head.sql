-- When the first failed attempt at the event after the cursor was made. That event is
-- dead-lettered once it has failed for long enough, however many attempts that took
-- (attempts come at least once a minute while an endpoint fails). NULL while the
-- event has not failed; endpoints failing at the upgrade start counting at their next
-- failure.
ALTER TABLE webhooks ADD COLUMN head_failing_since BIGINT;
