-- The event store: the source of truth for every ticket's history.
CREATE TABLE IF NOT EXISTS accounts (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    policy_id       text NOT NULL,
    plan            text,
    entitled_from   date,
    entitled_until  date,
    target_overrides jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS contacts (
    account_id  text NOT NULL REFERENCES accounts(id),
    email       text NOT NULL,
    role        text NOT NULL CHECK (role IN ('approved', 'escalation')),
    name        text,
    level       int,
    PRIMARY KEY (account_id, email, role)
);

CREATE TABLE IF NOT EXISTS api_keys (
    id          text PRIMARY KEY,            -- public prefix shown in logs
    secret_hash bytea NOT NULL,              -- sha256 of the secret part
    accounts    text[] NOT NULL,
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);

CREATE TABLE IF NOT EXISTS tickets (
    ticket_id   uuid PRIMARY KEY,
    account_id  text NOT NULL REFERENCES accounts(id),
    number      text NOT NULL UNIQUE,
    policy      text NOT NULL,
    priority    text NOT NULL,
    plan        text,
    status      text NOT NULL,
    version     int NOT NULL,
    opened_at   timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_account_status ON tickets (account_id, status, opened_at);

CREATE TABLE IF NOT EXISTS events (
    ticket_id   uuid NOT NULL,
    version     int NOT NULL,
    event_id    uuid NOT NULL UNIQUE,
    type        text NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    envelope    jsonb NOT NULL,
    PRIMARY KEY (ticket_id, version)
);

CREATE TABLE IF NOT EXISTS outbox (
    id           bigserial PRIMARY KEY,
    ticket_id    uuid NOT NULL,
    version      int NOT NULL,
    event_id     uuid NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE IF NOT EXISTS idempotency_keys (
    api_key_id   text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    status       int NOT NULL,
    response     jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (api_key_id, key)
);

CREATE TABLE IF NOT EXISTS command_log (
    command_id  uuid PRIMARY KEY,
    ticket_id   uuid NOT NULL,
    command     text NOT NULL,
    outcome     text NOT NULL,
    detail      text,
    at          timestamptz NOT NULL DEFAULT now()
);
