-- An account's override of its policy's escalation matrix (levels, critical priorities).
ALTER TABLE accounts ADD COLUMN IF NOT EXISTS escalation jsonb NOT NULL DEFAULT '{}'::jsonb;
CREATE INDEX IF NOT EXISTS contacts_escalation ON contacts (account_id, level)
    WHERE role = 'escalation';
