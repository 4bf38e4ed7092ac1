-- `room_changes` and `room_leases` stored in their primary key's B-tree alone (WITHOUT ROWID).
-- As rowid tables each kept two B-trees per room: the rows by rowid and the index of
-- `room_sid` (the primary key) pointing into them, so every room created inserted into both,
-- and every read or update by `room_sid` (a batch's lease fence, a change counter raised,
-- REST's room version) searched both. Keyed by `room_sid` alone, each is one B-tree and one
-- search (BENCHMARKS.md, creates). Same columns, keys, constraints and triggers as before.

-- The triggers that write `room_changes`, made again once it is (verbatim, from
-- 20261203000002_room_changes.sql).
DROP TRIGGER rooms_inserted_changes;
DROP TRIGGER rooms_updated_changes;
DROP TRIGGER rooms_deleted_changes;
DROP TRIGGER participants_inserted_changes;
DROP TRIGGER participants_updated_changes;
DROP TRIGGER participants_deleted_changes;

CREATE TABLE room_changes_keyed (
    room_sid TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO room_changes_keyed (room_sid, n) SELECT room_sid, n FROM room_changes;
DROP TABLE room_changes;
ALTER TABLE room_changes_keyed RENAME TO room_changes;

CREATE TRIGGER rooms_inserted_changes AFTER INSERT ON rooms
BEGIN INSERT OR IGNORE INTO room_changes (room_sid, n) VALUES (NEW.sid, 0); END;
CREATE TRIGGER rooms_updated_changes AFTER UPDATE ON rooms
BEGIN UPDATE room_changes SET n = n + 1 WHERE room_sid IN (OLD.sid, NEW.sid); END;
CREATE TRIGGER rooms_deleted_changes AFTER DELETE ON rooms
BEGIN UPDATE room_changes SET n = n + 1 WHERE room_sid = OLD.sid; END;
CREATE TRIGGER participants_inserted_changes AFTER INSERT ON participants
BEGIN UPDATE room_changes SET n = n + 1 WHERE room_sid = NEW.room_sid; END;
CREATE TRIGGER participants_updated_changes AFTER UPDATE ON participants
BEGIN UPDATE room_changes SET n = n + 1 WHERE room_sid IN (OLD.room_sid, NEW.room_sid); END;
CREATE TRIGGER participants_deleted_changes AFTER DELETE ON participants
BEGIN UPDATE room_changes SET n = n + 1 WHERE room_sid = OLD.room_sid; END;

-- The lease table's own trigger goes with it and is made again (verbatim, from
-- 20261203000003_node_leases.sql).
CREATE TABLE room_leases_keyed (
    room_sid TEXT PRIMARY KEY NOT NULL,
    node_id TEXT NOT NULL,
    address TEXT NOT NULL,
    token INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO room_leases_keyed (room_sid, node_id, address, token, expires_at)
    SELECT room_sid, node_id, address, token, expires_at FROM room_leases;
DROP TABLE room_leases;
ALTER TABLE room_leases_keyed RENAME TO room_leases;

CREATE TRIGGER room_lease_taken AFTER UPDATE OF token ON room_leases
    WHEN OLD.token <> NEW.token AND OLD.expires_at > 0
BEGIN
    INSERT OR IGNORE INTO lease_losses (node_id, room_sid, token)
        VALUES (OLD.node_id, OLD.room_sid, OLD.token);
END;
