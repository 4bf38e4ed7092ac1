-- What several vroom nodes sharing one database need (one node is a cluster of one).
--
-- Room ownership: the node that runs a room in progress holds its lease and renews it before
-- `expires_at`; another node takes the room over only once the lease has expired (or was
-- released: `expires_at` = 0). `token` grows each time the room changes hands, and every write of
-- the room's task is checked against it in its transaction (fencing), so a node that lost the room
-- cannot write to it any more. `address` is where the owner serves, for the other nodes.
CREATE TABLE room_leases (
    room_sid TEXT PRIMARY KEY NOT NULL,
    node_id TEXT NOT NULL,
    address TEXT NOT NULL,
    token BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- A status-callback event is sent by the node that claimed it, until `claimed_until`; an event
-- whose claim lapsed (its node died) is claimed again by another.
ALTER TABLE webhook_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE webhook_outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;

-- Secrets every node must agree on (the signaling resume key), drawn by the first node to start.
CREATE TABLE cluster_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
