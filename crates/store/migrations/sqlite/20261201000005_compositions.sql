-- Compositions (one row per composition, which is also its job: claimed by a node's worker until
-- `claimed_until`, started `attempts` times; `hook_sid` names the composition hook that made it,
-- at most one per room and hook), composition hooks, and the per-account
-- RecordingSettings / CompositionSettings. `spec` is what to compose, as JSON (the store's
-- codec). `seq` is the insertion sequence (the list order's tie-breaker, as for rooms).
CREATE TABLE compositions (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    room_sid TEXT NOT NULL REFERENCES rooms (sid),
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_completed INTEGER,
    date_deleted INTEGER,
    size INTEGER NOT NULL,
    duration INTEGER NOT NULL,
    bitrate INTEGER NOT NULL,
    progress INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    error TEXT,
    hook_sid TEXT,
    claimed_by TEXT,
    claimed_until INTEGER NOT NULL,
    seq INTEGER NOT NULL
);

CREATE UNIQUE INDEX compositions_seq ON compositions (seq);
CREATE INDEX compositions_by_account ON compositions (account_sid, date_created, seq);
CREATE UNIQUE INDEX compositions_by_hook ON compositions (room_sid, hook_sid) WHERE hook_sid IS NOT NULL;
CREATE INDEX compositions_jobs ON compositions (date_created, seq) WHERE status IN ('enqueued', 'processing');

CREATE TABLE composition_hooks (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    spec TEXT NOT NULL,
    date_created INTEGER NOT NULL,
    date_updated INTEGER,
    seq INTEGER NOT NULL
);

CREATE UNIQUE INDEX composition_hooks_seq ON composition_hooks (seq);
CREATE UNIQUE INDEX composition_hooks_name ON composition_hooks (account_sid, friendly_name);
CREATE INDEX composition_hooks_by_account ON composition_hooks (account_sid, date_created, seq);

CREATE TABLE media_settings (
    account_sid TEXT NOT NULL,
    kind TEXT NOT NULL,
    friendly_name TEXT NOT NULL,
    aws_credentials_sid TEXT,
    aws_s3_url TEXT,
    aws_storage_enabled INTEGER NOT NULL,
    encryption_key_sid TEXT,
    encryption_enabled INTEGER NOT NULL,
    PRIMARY KEY (account_sid, kind)
);

-- Status callbacks of recordings and compositions carry parameters rooms' events do not: a JSON
-- object of Twilio's parameter names and values.
ALTER TABLE webhook_outbox ADD COLUMN extra TEXT;
