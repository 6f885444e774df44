-- How a ticket was opened and how it ended, on the read model: the channel (for the policy's
-- channel rules on later severity changes), how its problem stands solved (`resolution` or
-- `workaround`) and why it is closed (`timeout`, `resolution`, `workaround`, `closed`).
-- Migrations run at every start: the columns are added, and rows from before them filled in
-- from their events, only the first time.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
               WHERE table_schema = current_schema() AND table_name = 'tickets'
                 AND column_name = 'closed_reason') THEN
        RETURN;
    END IF;
    ALTER TABLE tickets ADD COLUMN channel text;
    ALTER TABLE tickets ADD COLUMN resolution text;
    ALTER TABLE tickets ADD COLUMN closed_reason text;
    UPDATE tickets t SET channel = e.envelope -> 'data' ->> 'channel'
    FROM events e WHERE e.ticket_id = t.ticket_id AND e.version = 1;
    -- since its last reopening: resolved beats a workaround
    UPDATE tickets t SET resolution = s.resolution
    FROM (
        SELECT e.ticket_id,
               CASE WHEN bool_or(e.type = 'ticket.resolved') THEN 'resolution'
                    WHEN bool_or(e.type = 'ticket.workaround_provided') THEN 'workaround'
               END AS resolution
        FROM events e
        WHERE e.version > COALESCE((SELECT max(r.version) FROM events r
                                    WHERE r.ticket_id = e.ticket_id
                                      AND r.type = 'ticket.reopened'), 0)
        GROUP BY e.ticket_id
    ) s
    WHERE t.ticket_id = s.ticket_id;
    UPDATE tickets t SET closed_reason = CASE
            WHEN last.type = 'ticket.closed_by_timeout' THEN 'timeout'
            ELSE COALESCE(t.resolution, 'closed') END
    FROM (
        SELECT DISTINCT ON (ticket_id) ticket_id, type FROM events
        WHERE type IN ('ticket.closed', 'ticket.closed_by_timeout', 'ticket.reopened')
        ORDER BY ticket_id, version DESC
    ) last
    WHERE t.status = 'closed' AND last.ticket_id = t.ticket_id
      AND last.type <> 'ticket.reopened';
END
$$;
