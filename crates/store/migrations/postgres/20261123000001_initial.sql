-- Rooms, participants, the status-callback outbox and the server's credentials: the tables of
-- migrations/sqlite/20261123000001_initial.sql, in PostgreSQL's types. Times are milliseconds since
-- the Unix epoch (UTC) in BIGINT; booleans are BOOLEAN; every other integer is BIGINT.

CREATE TABLE rooms (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    unique_name TEXT NOT NULL,
    status TEXT NOT NULL,
    ad_hoc BOOLEAN NOT NULL,
    room_type TEXT NOT NULL,
    max_participants BIGINT NOT NULL,
    max_participant_duration BIGINT NOT NULL,
    max_concurrent_published_tracks BIGINT NOT NULL,
    record_participants_on_connect BOOLEAN NOT NULL,
    transcribe_participants_on_connect BOOLEAN NOT NULL,
    transcriptions_configuration TEXT,
    video_codecs TEXT NOT NULL,
    media_region TEXT NOT NULL,
    audio_only BOOLEAN NOT NULL,
    empty_room_timeout BIGINT NOT NULL,
    unused_room_timeout BIGINT NOT NULL,
    large_room BOOLEAN NOT NULL,
    enable_turn BOOLEAN NOT NULL,
    status_callback TEXT,
    status_callback_method TEXT NOT NULL,
    recording_rules TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    end_time BIGINT,
    duration BIGINT
);

-- UniqueName is unique among in-progress rooms only: a completed room's name is free again.
CREATE UNIQUE INDEX rooms_live_unique_name ON rooms (account_sid, unique_name) WHERE status = 'in-progress';
CREATE INDEX rooms_by_status ON rooms (account_sid, status, date_created, sid);
CREATE INDEX rooms_by_name ON rooms (account_sid, unique_name, date_created, sid);

CREATE TABLE participants (
    sid TEXT PRIMARY KEY NOT NULL,
    room_sid TEXT NOT NULL REFERENCES rooms (sid),
    account_sid TEXT NOT NULL,
    identity TEXT NOT NULL,
    status TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    start_time BIGINT NOT NULL,
    end_time BIGINT,
    duration BIGINT,
    end_reason TEXT
);

-- At most one connected participant per identity and room: an identity takeover must disconnect the
-- older participant in the same transaction that inserts the newer one.
CREATE UNIQUE INDEX participants_connected_identity ON participants (room_sid, identity) WHERE status = 'connected';
CREATE INDEX participants_by_status ON participants (room_sid, status, date_created, sid);
CREATE INDEX participants_by_identity ON participants (room_sid, identity, date_created, sid);
CREATE INDEX participants_connected ON participants (status) WHERE status = 'connected';

-- Status-callback events, written in the same transaction as the change they describe and deleted
-- from the pending set only once delivered (or given up on).
CREATE TABLE webhook_outbox (
    id BIGSERIAL PRIMARY KEY,
    room_sid TEXT NOT NULL,
    sequence_number BIGINT NOT NULL,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    method TEXT NOT NULL,
    account_sid TEXT NOT NULL,
    room_name TEXT NOT NULL,
    room_status TEXT NOT NULL,
    room_type TEXT NOT NULL,
    room_duration BIGINT,
    participant_sid TEXT,
    participant_identity TEXT,
    participant_status TEXT,
    participant_duration BIGINT,
    track_sid TEXT,
    track_kind TEXT,
    track_name TEXT,
    event_time BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    last_error TEXT,
    finished_at BIGINT
);

CREATE INDEX webhook_outbox_pending ON webhook_outbox (state, next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_outbox_room ON webhook_outbox (room_sid, id);

CREATE TABLE credentials (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    account_sid TEXT NOT NULL,
    auth_token TEXT NOT NULL,
    api_key_sid TEXT NOT NULL,
    api_key_secret TEXT NOT NULL
);
