-- The months whose TAM hours an account has used up (from billing's tam.budget_exhausted):
-- new TAM-channel tickets of that month are marked redirected to the support email.
CREATE TABLE IF NOT EXISTS tam_budgets_exhausted (
    account_id    text NOT NULL,
    month         text NOT NULL CHECK (month ~ '^\d{4}-\d{2}$'),
    exhausted_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, month)
);
