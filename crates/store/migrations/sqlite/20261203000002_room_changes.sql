-- A counter per room that every change to the room or to one of its participants raises, by trigger,
-- so a change made by any process (another node on the same file, an operator with sqlite3) counts.
-- REST keeps the participant pages and records of a room it answered while the room's counter stands
-- still. A room's row is never taken away (a deleted room's counter is raised and stays), so a
-- counter never goes back to a value it had.

CREATE TABLE room_changes (
    room_sid TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
);

INSERT INTO room_changes (room_sid, n) SELECT sid, 0 FROM rooms;

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
