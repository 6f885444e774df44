-- Notify: what it knows of tickets, webhook subscribers, account templates, the delivery log.
CREATE TABLE IF NOT EXISTS notify_tickets (
    ticket_id   text PRIMARY KEY,
    account     text NOT NULL,
    number      text,
    contact     text,
    subject     text,
    priority    text
);

CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id          text PRIMARY KEY,
    account     text NOT NULL,
    url         text NOT NULL,
    secret      text NOT NULL,   -- HMAC signing key: needed in clear to sign, never logged
    events      text[] NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    disabled_at timestamptz
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_account ON webhook_subscriptions (account)
    WHERE disabled_at IS NULL;

CREATE TABLE IF NOT EXISTS notification_templates (
    account     text NOT NULL,
    name        text NOT NULL,
    subject     text NOT NULL,
    body        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account, name)
);

CREATE TABLE IF NOT EXISTS notifications (
    id              uuid PRIMARY KEY,   -- uuid5(source event id, recipient, channel)
    ticket_id       text NOT NULL,
    account         text NOT NULL,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text NOT NULL,
    template        text NOT NULL,
    source_event_id uuid NOT NULL,
    source_type     text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    body            bytea NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    delivered_at    timestamptz
);
CREATE INDEX IF NOT EXISTS notifications_due ON notifications (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS notifications_ticket ON notifications (ticket_id, created_at);
CREATE INDEX IF NOT EXISTS notifications_dead ON notifications (account, created_at)
    WHERE status = 'dead';
