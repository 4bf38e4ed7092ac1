-- One lease per node instead of one per room: a node renews its own lease once per term, and each
-- of its rooms' leases holds while it does, so the cost of renewing no longer grows with the rooms
-- in progress (BENCHMARKS.md, creates).
--
-- `room_leases.expires_at` is now 0 when the lease was given up and 1 while its node holds it; when
-- it ends is the node's `node_leases.expires_at`. Another node takes a room over once its holder's
-- node lease has expired (or the room's lease was released).
CREATE TABLE node_leases (
    node_id TEXT PRIMARY KEY NOT NULL,
    expires_at BIGINT NOT NULL
);

INSERT INTO node_leases (node_id, expires_at)
    SELECT node_id, MAX(expires_at) FROM room_leases WHERE expires_at > 0 GROUP BY node_id;
UPDATE room_leases SET expires_at = 1 WHERE expires_at > 0;

-- The leases taken from a node while it still held them (its node lease had lapsed): what the node
-- learns, and forgets, at its next renewal, so it stops the rooms it lost without reading them all.
-- A lease given up (`expires_at` = 0) is not noted: its node already knows.
CREATE TABLE lease_losses (
    node_id TEXT NOT NULL,
    room_sid TEXT NOT NULL,
    token BIGINT NOT NULL,
    PRIMARY KEY (node_id, room_sid, token)
);

CREATE FUNCTION room_lease_taken() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO lease_losses (node_id, room_sid, token)
        VALUES (OLD.node_id, OLD.room_sid, OLD.token) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER room_lease_taken AFTER UPDATE OF token ON room_leases
    FOR EACH ROW WHEN (OLD.token <> NEW.token AND OLD.expires_at > 0)
    EXECUTE FUNCTION room_lease_taken();
