-- SQLite's migration of the same name stores `room_changes` and `room_leases` in their primary
-- key's B-tree alone (WITHOUT ROWID), where as rowid tables they kept two per room. A PostgreSQL
-- table is a heap with one B-tree for its primary key already: nothing to change. The file keeps
-- the two backends' migrations in step, name for name.
SELECT 1;
