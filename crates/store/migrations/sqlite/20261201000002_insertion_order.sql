-- An insertion sequence for rooms and participants: the tie-breaker of list order (newest first,
-- by `date_created`, then `seq`) for records created in the same millisecond. Every backend keeps
-- it, so the order does not depend on one database's row ids. Existing rows take their rowid,
-- which is the order they were inserted in; new rows take the largest sequence plus one (SQLite
-- runs one write transaction at a time, and the unique index would refuse a duplicate).

ALTER TABLE rooms ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET seq = rowid;
CREATE UNIQUE INDEX rooms_seq ON rooms (seq);
DROP INDEX rooms_by_status;
DROP INDEX rooms_by_name;
CREATE INDEX rooms_by_status ON rooms (account_sid, status, date_created, seq);
CREATE INDEX rooms_by_name ON rooms (account_sid, unique_name, date_created, seq);

ALTER TABLE participants ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE participants SET seq = rowid;
CREATE UNIQUE INDEX participants_seq ON participants (seq);
DROP INDEX participants_by_status;
DROP INDEX participants_by_identity;
CREATE INDEX participants_by_status ON participants (room_sid, status, date_created, seq);
CREATE INDEX participants_by_identity ON participants (room_sid, identity, date_created, seq);
