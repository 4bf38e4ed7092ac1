-- A counter that every change to accounts or API keys raises, by trigger, so a change made by any
-- process (`vroom keys revoke`, another node, an operator with sqlite3) counts. REST keeps the
-- credentials it verified while the counter stands still, and forgets them all when it moves.

CREATE TABLE credential_changes (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    n INTEGER NOT NULL
);

INSERT INTO credential_changes (id, n) VALUES (1, 0);

CREATE TRIGGER accounts_inserted AFTER INSERT ON accounts
BEGIN UPDATE credential_changes SET n = n + 1; END;
CREATE TRIGGER accounts_updated AFTER UPDATE ON accounts
BEGIN UPDATE credential_changes SET n = n + 1; END;
CREATE TRIGGER accounts_deleted AFTER DELETE ON accounts
BEGIN UPDATE credential_changes SET n = n + 1; END;
CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys
BEGIN UPDATE credential_changes SET n = n + 1; END;
CREATE TRIGGER api_keys_updated AFTER UPDATE ON api_keys
BEGIN UPDATE credential_changes SET n = n + 1; END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys
BEGIN UPDATE credential_changes SET n = n + 1; END;
