-- The console's read model: the tickets it has seen, each open ticket's next deadline per
-- metric, and how far the projection has got. Rebuilt from the topics by
-- `ticketflow console rebuild`; its tracking rows are processed_events (consumer 'console').
CREATE TABLE IF NOT EXISTS console_tickets (
    ticket_id  text PRIMARY KEY,
    number     text,
    account    text NOT NULL,
    policy     text NOT NULL,
    priority   text NOT NULL,
    ended      boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS console_deadlines (
    ticket_id        text NOT NULL,
    metric           text NOT NULL,
    number           text,
    account          text NOT NULL,
    policy           text NOT NULL,
    priority         text NOT NULL,
    due_at           timestamptz,
    warn_at          timestamptz,
    status           text NOT NULL CHECK (status IN ('running', 'paused', 'met', 'breached')),
    escalation_level int NOT NULL DEFAULT 0,
    acknowledged     boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, metric)
);
CREATE INDEX IF NOT EXISTS console_deadlines_next
    ON console_deadlines (account, due_at) WHERE status <> 'met';

CREATE TABLE IF NOT EXISTS console_projection (
    id              boolean PRIMARY KEY DEFAULT true CHECK (id),
    newest_event_at timestamptz,
    changes         bigint NOT NULL DEFAULT 0
);
INSERT INTO console_projection (id) VALUES (true) ON CONFLICT DO NOTHING;
