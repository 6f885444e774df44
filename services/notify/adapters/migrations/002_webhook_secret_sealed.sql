-- Webhook signing secrets are kept sealed (Fernet, services/notify/adapters/secret_box.py).
-- `secret` held them in clear; startup (store.seal_secrets) seals every such row into
-- `secret_sealed` and clears `secret`, and re-seals rows sealed under an older key.
ALTER TABLE webhook_subscriptions ADD COLUMN IF NOT EXISTS secret_sealed text;
ALTER TABLE webhook_subscriptions ALTER COLUMN secret DROP NOT NULL;
COMMENT ON COLUMN webhook_subscriptions.secret IS
    'legacy clear-text signing secret; sealed into secret_sealed and cleared at startup';
