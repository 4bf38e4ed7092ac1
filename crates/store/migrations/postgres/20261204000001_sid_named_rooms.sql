-- A room created without a UniqueName is named by its SID, which is most rooms. Such rooms are now
-- in neither name index: a create writes two B-tree entries fewer. The store finds a SID-named
-- room by its primary key instead, and checks in the insert's transaction the uniqueness these
-- indexes no longer see (crates/store/src/names.rs).
DROP INDEX rooms_live_unique_name;
CREATE UNIQUE INDEX rooms_live_unique_name ON rooms (account_sid, unique_name)
    WHERE status = 'in-progress' AND unique_name <> sid;
DROP INDEX rooms_by_name;
CREATE INDEX rooms_by_name ON rooms (account_sid, unique_name, date_created, seq)
    WHERE unique_name <> sid;
