-- Billing: each ticket's billing-relevant events, the charges assessed (voided ones kept),
-- each account's terms (rate card, prepaid time) and its TAM minutes per month.
CREATE TABLE IF NOT EXISTS billing_events (
    ticket_id  text NOT NULL,
    sequence   bigint NOT NULL,
    type       text NOT NULL,
    at         timestamptz NOT NULL,
    data       jsonb NOT NULL,
    PRIMARY KEY (ticket_id, sequence)
);

CREATE TABLE IF NOT EXISTS billing_charges (
    charge_id        uuid PRIMARY KEY,
    ticket_id        text NOT NULL,
    account          text NOT NULL,
    policy           text NOT NULL,
    month            text NOT NULL CHECK (month ~ '^\d{4}-\d{2}$'),
    rule             text NOT NULL,
    key              text NOT NULL,
    basis            text NOT NULL CHECK (basis IN ('incident', 'hours', 'quote')),
    amount           numeric(14, 2),
    currency         text,
    source           text NOT NULL,
    worked_minutes   int NOT NULL DEFAULT 0,
    billed_minutes   int NOT NULL DEFAULT 0,
    prepaid_minutes  int NOT NULL DEFAULT 0,
    rate             numeric(14, 2),
    assessed_at      timestamptz NOT NULL,
    voided_at        timestamptz
);
CREATE UNIQUE INDEX IF NOT EXISTS billing_charges_in_force
    ON billing_charges (ticket_id, key) WHERE voided_at IS NULL;
CREATE INDEX IF NOT EXISTS billing_charges_account ON billing_charges (account, month);

CREATE TABLE IF NOT EXISTS billing_accounts (
    account               text PRIMARY KEY,
    rates                 jsonb NOT NULL DEFAULT '{}'::jsonb,
    prepaid_low_minutes   int NOT NULL DEFAULT 60 CHECK (prepaid_low_minutes >= 0),
    updated_at            timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS billing_tam (
    account        text NOT NULL,
    month          text NOT NULL CHECK (month ~ '^\d{4}-\d{2}$'),
    used_minutes   int NOT NULL CHECK (used_minutes >= 0),
    budget_hours   int NOT NULL CHECK (budget_hours >= 0),
    PRIMARY KEY (account, month)
);

-- Prepaid time: the balance is the top-ups less what the charges in force draw.
CREATE TABLE IF NOT EXISTS billing_prepaid (
    id         bigserial PRIMARY KEY,
    account    text NOT NULL,
    minutes    int NOT NULL CHECK (minutes > 0),
    added_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS billing_prepaid_account ON billing_prepaid (account);
