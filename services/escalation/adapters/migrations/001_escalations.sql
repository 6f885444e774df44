-- Escalation episodes, one open per (ticket, metric); the tickets it has seen.
CREATE TABLE IF NOT EXISTS escalations (
    id              uuid PRIMARY KEY,
    ticket_id       text NOT NULL,
    ticket_number   text,
    account         text NOT NULL,
    policy          text NOT NULL,
    priority        text NOT NULL,
    metric          text NOT NULL,
    trigger         text NOT NULL,
    reason          text,
    critical        boolean NOT NULL,
    status          text NOT NULL CHECK (status IN
                        ('warned', 'deferred', 'raised', 'acknowledged', 'resolved')),
    level           int NOT NULL,
    opened_at       timestamptz NOT NULL,
    plan            text,
    deadline        timestamptz,
    raised_at       timestamptz,
    next_at         timestamptz,
    acknowledged_by text,
    resolution      text,
    updated_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE UNIQUE INDEX IF NOT EXISTS escalations_one_open
    ON escalations (ticket_id, metric) WHERE status <> 'resolved';
CREATE INDEX IF NOT EXISTS escalations_due ON escalations (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS escalations_account ON escalations (account, opened_at);

CREATE TABLE IF NOT EXISTS escalation_tickets (
    ticket_id   text PRIMARY KEY,
    account     text NOT NULL,
    policy      text NOT NULL,
    priority    text NOT NULL,
    plan        text,
    number      text
);
