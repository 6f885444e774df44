-- API key lifecycle: a visible prefix to tell keys apart without the secret, when a key was
-- last used (recorded at most about once a minute per key), and which key replaced it when
-- it was rotated. `revoked_at` may lie in the future: a rotated key's grace period.
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS prefix text;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS last_used_at timestamptz;
ALTER TABLE api_keys ADD COLUMN IF NOT EXISTS replaced_by text;
UPDATE api_keys SET prefix = 'tf_' || id || '_' WHERE prefix IS NULL;
CREATE INDEX IF NOT EXISTS api_keys_created ON api_keys (created_at DESC, id);
