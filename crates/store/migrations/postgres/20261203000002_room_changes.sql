-- A counter per room that every change to the room or to one of its participants raises, by trigger,
-- so a change made by any process (another node, an operator with psql) counts. REST keeps the
-- participant pages and records of a room it answered while the room's counter stands still. A
-- room's row is never taken away (a deleted room's counter is raised and stays), so a counter never
-- goes back to a value it had.

CREATE TABLE room_changes (
    room_sid TEXT PRIMARY KEY NOT NULL,
    n BIGINT NOT NULL
);

INSERT INTO room_changes (room_sid, n) SELECT sid, 0 FROM rooms;

CREATE FUNCTION room_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO room_changes (room_sid, n) VALUES (NEW.sid, 0) ON CONFLICT (room_sid) DO NOTHING;
    RETURN NULL;
END
$$;

-- OLD is NULL for an INSERT and NEW for a DELETE; `IN` skips the NULL.
CREATE FUNCTION room_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'rooms' THEN
        UPDATE room_changes SET n = n + 1 WHERE room_sid IN (OLD.sid, NEW.sid);
    ELSE
        UPDATE room_changes SET n = n + 1 WHERE room_sid IN (OLD.room_sid, NEW.room_sid);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION rooms_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE room_changes SET n = n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER rooms_inserted_changes AFTER INSERT ON rooms
    FOR EACH ROW EXECUTE FUNCTION room_inserted();
CREATE TRIGGER rooms_changed AFTER UPDATE OR DELETE ON rooms
    FOR EACH ROW EXECUTE FUNCTION room_changed();
CREATE TRIGGER participants_changed AFTER INSERT OR UPDATE OR DELETE ON participants
    FOR EACH ROW EXECUTE FUNCTION room_changed();
CREATE TRIGGER rooms_truncated_changes AFTER TRUNCATE ON rooms
    FOR EACH STATEMENT EXECUTE FUNCTION rooms_truncated();
CREATE TRIGGER participants_truncated_changes AFTER TRUNCATE ON participants
    FOR EACH STATEMENT EXECUTE FUNCTION rooms_truncated();
