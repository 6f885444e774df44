-- What the level delays count from: when the escalation fell due (the breach, or the
-- opening a quiet-hours page waited for). raised_at is when the first page went out.
ALTER TABLE escalations ADD COLUMN IF NOT EXISTS levels_from timestamptz;
