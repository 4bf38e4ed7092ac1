-- The rooms in progress, oldest first, without reading the history: a node asks every lease term
-- which of them no node looks after (`ORPHANED_ROOMS`), and at start which ones to bring back.
CREATE INDEX rooms_in_progress ON rooms (date_created, seq) WHERE status = 'in-progress';
