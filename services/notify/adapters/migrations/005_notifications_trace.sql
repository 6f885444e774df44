-- The W3C traceparent of the event a notification was planned from (null when it was not
-- traced): its send, done later by the delivery loop, continues that trace.
ALTER TABLE notifications ADD COLUMN IF NOT EXISTS traceparent text;
