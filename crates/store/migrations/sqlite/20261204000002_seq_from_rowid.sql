-- A room's and a participant's `seq` (the list order's tie-breaker) is taken from the rowid: the
-- insert sets it to the largest rowid plus one, which is the rowid SQLite gives the new row, so
-- the unique index each kept to find the largest `seq` is one B-tree per insert for nothing.
-- Rows inserted before carry `seq` = rowid already (20261201000002 set it, and every insert since
-- took the largest plus one, as SQLite does for rowids); this sets it again so that holds for any
-- database. VACUUM renumbers the rowids of these tables, keeping their order; a row inserted after
-- one can share a `seq` with an older row, which only matters for two rows of the same millisecond
-- across it, and vroom never runs VACUUM.
DROP INDEX rooms_seq;
UPDATE rooms SET seq = rowid WHERE seq <> rowid;
DROP INDEX participants_seq;
UPDATE participants SET seq = rowid WHERE seq <> rowid;
