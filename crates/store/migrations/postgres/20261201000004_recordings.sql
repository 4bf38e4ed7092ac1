-- Track recordings: one row per recorded span of a published track, kept as history. `seq` is the
-- insertion sequence (the list order's tie-breaker), assigned by a sequence as for rooms.
CREATE TABLE recordings (
    sid TEXT PRIMARY KEY NOT NULL,
    account_sid TEXT NOT NULL,
    room_sid TEXT NOT NULL REFERENCES rooms (sid),
    participant_sid TEXT NOT NULL,
    track_sid TEXT NOT NULL,
    track_name TEXT NOT NULL,
    kind TEXT NOT NULL,
    codec TEXT NOT NULL,
    status TEXT NOT NULL,
    date_created BIGINT NOT NULL,
    date_updated BIGINT NOT NULL,
    size BIGINT NOT NULL,
    duration BIGINT,
    media_offset BIGINT NOT NULL,
    seq BIGSERIAL NOT NULL
);

CREATE UNIQUE INDEX recordings_seq ON recordings (seq);
CREATE INDEX recordings_by_account ON recordings (account_sid, date_created, seq);
CREATE INDEX recordings_by_room ON recordings (room_sid, date_created, seq);
CREATE INDEX recordings_processing ON recordings (status) WHERE status = 'processing';
