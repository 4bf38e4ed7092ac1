-- A counter that every change to accounts or API keys raises, by trigger, so a change made by any
-- process (`vroom keys revoke`, another node, an operator with psql) counts. REST keeps the
-- credentials it verified while the counter stands still, and forgets them all when it moves.

CREATE TABLE credential_changes (
    id BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    n BIGINT NOT NULL
);

INSERT INTO credential_changes (id, n) VALUES (1, 0);

CREATE FUNCTION credentials_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE credential_changes SET n = n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION credentials_changed();
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION credentials_changed();
