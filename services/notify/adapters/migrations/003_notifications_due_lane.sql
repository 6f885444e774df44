-- Due notifications by lane (a webhook subscription, or the email channel), oldest first:
-- the deliverer claims each lane's oldest due rows, as many as the lane has room for
-- (store.claim; the expression must stay identical to store.LANE).
CREATE INDEX IF NOT EXISTS notifications_due_lane ON notifications
    ((CASE WHEN channel = 'webhook' THEN recipient ELSE channel END), next_attempt_at)
    WHERE status = 'pending';
