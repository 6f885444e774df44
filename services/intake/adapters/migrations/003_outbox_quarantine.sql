-- Outbox records the broker will never take (too large for it, refused as invalid), moved out
-- of the relay's way. While a ticket has an unresolved entry here the relay publishes none of
-- that ticket's later events: they wait in the outbox, in order, until the entry is retried
-- (the relay sends it again) or dropped (it never reaches the topic; its outbox row is marked
-- published then, and this row keeps `resolution = 'dropped'` as the record that it was not).
CREATE TABLE IF NOT EXISTS outbox_quarantine (
    id             bigserial PRIMARY KEY,
    outbox_id      bigint NOT NULL REFERENCES outbox (id),
    ticket_id      uuid NOT NULL,
    version        int NOT NULL,
    event_id       uuid NOT NULL,
    error_type     text NOT NULL,
    error          text NOT NULL,
    record_bytes   int,
    quarantined_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    resolution     text CHECK (resolution IN ('retried', 'dropped')),
    resolved_at    timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_quarantine_open
    ON outbox_quarantine (outbox_id) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_quarantine_open_tickets
    ON outbox_quarantine (ticket_id) WHERE resolved_at IS NULL;
