//! Tracks a participant publishes.

use crate::sid::TrackSid;
use crate::time::Timestamp;

/// Audio, video or data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackKind {
    /// Audio track.
    Audio,
    /// Video track.
    Video,
    /// Data track.
    Data,
}

impl TrackKind {
    /// `audio`, `video`, `data`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Audio => "audio",
            Self::Video => "video",
            Self::Data => "data",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Audio, Self::Video, Self::Data]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// The publish priority a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum TrackPriority {
    /// low
    Low,
    /// standard (default)
    #[default]
    Standard,
    /// high
    High,
}

impl TrackPriority {
    /// `low`, `standard`, `high`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Standard => "standard",
            Self::High => "high",
        }
    }

    /// Parses a wire name; unknown values fall back to standard.
    #[must_use]
    pub fn parse(s: &str) -> Self {
        match s {
            "low" => Self::Low,
            "high" => Self::High,
            _ => Self::Standard,
        }
    }
}

/// A track as the client describes it in its participant state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackInfo {
    /// The client's id for the track (its MediaStreamTrack id, also the SDP msid track-id).
    pub client_id: String,
    /// The track's name (unique per participant).
    pub name: String,
    /// Kind.
    pub kind: TrackKind,
    /// Whether the publisher has it enabled.
    pub enabled: bool,
    /// Publish priority.
    pub priority: TrackPriority,
}

/// A track currently published by a participant, with its server-side SID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedTrack {
    /// `MT…`
    pub sid: TrackSid,
    /// What the client said about it.
    pub info: TrackInfo,
    /// When it was first published.
    pub date_created: Timestamp,
    /// When it last changed (enabled/disabled).
    pub date_updated: Timestamp,
}
