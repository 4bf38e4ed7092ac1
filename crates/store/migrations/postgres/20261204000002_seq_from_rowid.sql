-- SQLite's migration of the same name takes `seq` from the rowid and drops its unique indexes. Here
-- `seq` is a BIGSERIAL: the sequence hands out each value once, so the unique indexes only cost
-- one B-tree per insert.
DROP INDEX rooms_seq;
DROP INDEX participants_seq;
