-- What the Ticket, Escalations and Compliance pages read: every ticket event (the SLA core
-- replays them for the timeline and the monthly report), what happened around a ticket
-- (escalation pages and acks, notifications sent) and each escalation's current state.
CREATE TABLE IF NOT EXISTS console_history (
    event_id       uuid PRIMARY KEY,
    ticket_id      text NOT NULL,
    account        text NOT NULL,
    policy         text NOT NULL,
    type           text NOT NULL,
    occurred_at    timestamptz NOT NULL,
    sequence       bigint,
    recorded_at    timestamptz,
    schema_version int NOT NULL,
    data           jsonb NOT NULL
);
CREATE INDEX IF NOT EXISTS console_history_ticket
    ON console_history (ticket_id, sequence, occurred_at);

CREATE TABLE IF NOT EXISTS console_marks (
    event_id  uuid PRIMARY KEY,
    ticket_id text NOT NULL,
    at        timestamptz NOT NULL,
    kind      text NOT NULL,
    label     text NOT NULL
);
CREATE INDEX IF NOT EXISTS console_marks_ticket ON console_marks (ticket_id, at);

CREATE TABLE IF NOT EXISTS console_escalations (
    escalation_id   uuid PRIMARY KEY,
    ticket_id       text NOT NULL,
    number          text,
    account         text NOT NULL,
    policy          text NOT NULL,
    priority        text NOT NULL,
    metric          text NOT NULL,
    trigger         text NOT NULL,
    critical        boolean NOT NULL,
    level           int NOT NULL,
    status          text NOT NULL
        CHECK (status IN ('warned', 'deferred', 'raised', 'acknowledged', 'resolved')),
    deadline        timestamptz,
    opened_at       timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    acknowledged_by text
);
CREATE INDEX IF NOT EXISTS console_escalations_open
    ON console_escalations (account, opened_at) WHERE status <> 'resolved';
