-- Several accounts (tenants), each with several API keys that can be revoked: the tables of
-- migrations/sqlite/20261201000001_accounts.sql. The one row of `credentials` becomes the main
-- account and its first key (creation time unknown: 0).

CREATE TABLE accounts (
    sid TEXT PRIMARY KEY NOT NULL,
    auth_token TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    main BOOLEAN NOT NULL
);

-- At most one main account.
CREATE UNIQUE INDEX accounts_one_main ON accounts (main) WHERE main;

CREATE TABLE api_keys (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL REFERENCES accounts (sid),
    secret TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_revoked BIGINT
);

CREATE INDEX api_keys_by_account ON api_keys (account_sid, date_created);

INSERT INTO accounts (sid, auth_token, friendly_name, date_created, main)
    SELECT account_sid, auth_token, '', 0, TRUE FROM credentials;

INSERT INTO api_keys (sid, account_sid, secret, friendly_name, date_created, date_revoked)
    SELECT api_key_sid, account_sid, api_key_secret, '', 0, NULL FROM credentials;

DROP TABLE credentials;
