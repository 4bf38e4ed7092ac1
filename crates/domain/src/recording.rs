//! Track recordings: one record per recorded span of a published audio or video track, kept as
//! history like rooms and participants. The media server writes the file; the record says where it
//! stands (`processing` while media is written, then `completed` or `failed`; `deleted` once its
//! media is removed).

use crate::sid::{AccountSid, ParticipantSid, RecordingSid, RoomSid, TrackSid};
use crate::time::Timestamp;
use crate::track::TrackKind;

/// Where a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingStatus {
    /// Media is being written.
    Processing,
    /// The file is final and can be downloaded.
    Completed,
    /// Its media was deleted; the record stays.
    Deleted,
    /// Nothing usable was written.
    Failed,
}

impl RecordingStatus {
    /// Twilio's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Processing => "processing",
            Self::Completed => "completed",
            Self::Deleted => "deleted",
            Self::Failed => "failed",
        }
    }

    /// Parses Twilio's name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Processing,
            Self::Completed,
            Self::Deleted,
            Self::Failed,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The codec of a recording (what the track carried; media is never transcoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordingCodec {
    /// Opus audio.
    Opus,
    /// VP8 video.
    Vp8,
    /// H.264 video.
    H264,
}

impl RecordingCodec {
    /// Twilio's name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Opus => "OPUS",
            Self::Vp8 => "VP8",
            Self::H264 => "H264",
        }
    }

    /// Parses Twilio's name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Opus, Self::Vp8, Self::H264]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One track recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// `RT…`
    pub sid: RecordingSid,
    /// Owner.
    pub account_sid: AccountSid,
    /// The room it was recorded in.
    pub room_sid: RoomSid,
    /// The publisher of the track.
    pub participant_sid: ParticipantSid,
    /// The recorded track (Twilio's `source_sid`).
    pub track_sid: TrackSid,
    /// The track's name.
    pub track_name: String,
    /// Audio or video.
    pub kind: TrackKind,
    /// The codec written.
    pub codec: RecordingCodec,
    /// Status.
    pub status: RecordingStatus,
    /// When recording started.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
    /// Bytes of the media file (0 while processing).
    pub size: u64,
    /// Seconds of media, once completed (sub-second recordings count 1).
    pub duration: Option<u32>,
    /// Milliseconds from the Unix epoch (the point common to every room) to the start of the media,
    /// so the recordings of one room line up.
    pub offset: i64,
}

impl Recording {
    /// A recording starting at `now` of `track` published by `participant` in `room`.
    #[must_use]
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        sid: RecordingSid,
        account_sid: AccountSid,
        room_sid: RoomSid,
        participant_sid: ParticipantSid,
        track_sid: TrackSid,
        track_name: String,
        kind: TrackKind,
        codec: RecordingCodec,
        now: Timestamp,
    ) -> Self {
        Self {
            sid,
            account_sid,
            room_sid,
            participant_sid,
            track_sid,
            track_name,
            kind,
            codec,
            status: RecordingStatus::Processing,
            date_created: now,
            date_updated: now,
            size: 0,
            duration: None,
            offset: now.millis(),
        }
    }

    /// The container Twilio names for the kind: `mka` for audio, `mkv` for video.
    #[must_use]
    pub const fn container(&self) -> &'static str {
        match self.kind {
            TrackKind::Audio => "mka",
            _ => "mkv",
        }
    }

    /// The media file's name in the media store.
    #[must_use]
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.sid, self.container())
    }

    /// The media was finalized: `size` bytes holding `media_millis` of media.
    pub fn complete(&mut self, now: Timestamp, size: u64, media_millis: u64) {
        self.status = RecordingStatus::Completed;
        self.size = size;
        self.duration = Some(whole_seconds(media_millis));
        self.date_updated = now;
    }

    /// Nothing usable was written.
    pub fn fail(&mut self, now: Timestamp) {
        self.status = RecordingStatus::Failed;
        self.date_updated = now;
    }

    /// Its media was deleted.
    pub fn delete_media(&mut self, now: Timestamp) {
        self.status = RecordingStatus::Deleted;
        self.date_updated = now;
    }
}

/// Seconds rounded to the nearest, at least 1 (Twilio: sub-second tracks have a duration of 1).
#[must_use]
pub fn whole_seconds(millis: u64) -> u32 {
    u32::try_from(millis.saturating_add(500) / 1000)
        .unwrap_or(u32::MAX)
        .max(1)
}

/// What the media server needs to record a track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTrack {
    /// The recording.
    pub recording: RecordingSid,
    /// Its publisher.
    pub publisher: ParticipantSid,
    /// The publisher's client id of the track.
    pub publisher_track_id: String,
    /// The track's SID (what media warnings name).
    pub track: TrackSid,
    /// Audio or video.
    pub kind: TrackKind,
    /// The codec the Recording names: the one written.
    pub codec: RecordingCodec,
    /// The media file's name in the media store.
    pub file_name: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_to_whole_seconds_and_never_zero() {
        assert_eq!(whole_seconds(0), 1);
        assert_eq!(whole_seconds(400), 1);
        assert_eq!(whole_seconds(1499), 1);
        assert_eq!(whole_seconds(1500), 2);
        assert_eq!(whole_seconds(10_020), 10);
    }

    #[test]
    fn names_round_trip() {
        for s in ["processing", "completed", "deleted", "failed"] {
            assert_eq!(RecordingStatus::parse(s).unwrap().as_str(), s);
        }
        for c in ["OPUS", "VP8", "H264"] {
            assert_eq!(RecordingCodec::parse(c).unwrap().as_str(), c);
        }
        assert!(RecordingStatus::parse("Completed").is_none());
    }
}
