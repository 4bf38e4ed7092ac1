//! Participants: one record per connection to a room, kept forever as history.

use crate::sid::{AccountSid, ParticipantSid, RoomSid};
use crate::time::Timestamp;

/// A participant's status as the REST API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParticipantStatus {
    /// In the room (including while its signaling connection is being re-established).
    Connected,
    /// Left; the record is history.
    Disconnected,
}

impl ParticipantStatus {
    /// `connected` / `disconnected`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Disconnected => "disconnected",
        }
    }

    /// Parses a wire name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "connected" => Some(Self::Connected),
            "disconnected" => Some(Self::Disconnected),
            _ => None,
        }
    }
}

/// Why a participant left. Decides what its client is told, and is kept with the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndReason {
    /// The client disconnected on its own.
    Left,
    /// Removed through the REST API.
    Kicked,
    /// Another client connected with the same identity.
    DuplicateIdentity,
    /// The room ended.
    RoomEnded,
    /// The signaling connection was lost and not re-established in time.
    ConnectionLost,
    /// `MaxParticipantDuration` was reached.
    MaxDuration,
    /// vroom stopped while the participant was connected (closed at the next start).
    ServerStopped,
}

impl EndReason {
    /// Stable name used in storage and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Left => "left",
            Self::Kicked => "kicked",
            Self::DuplicateIdentity => "duplicate-identity",
            Self::RoomEnded => "room-ended",
            Self::ConnectionLost => "connection-lost",
            Self::MaxDuration => "max-duration",
            Self::ServerStopped => "server-stopped",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Left,
            Self::Kicked,
            Self::DuplicateIdentity,
            Self::RoomEnded,
            Self::ConnectionLost,
            Self::MaxDuration,
            Self::ServerStopped,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// The stored participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// `PA…`
    pub sid: ParticipantSid,
    /// The room.
    pub room_sid: RoomSid,
    /// The room's account.
    pub account_sid: AccountSid,
    /// Who (from the access token).
    pub identity: String,
    /// Status.
    pub status: ParticipantStatus,
    /// Creation time (= start time).
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
    /// When it connected.
    pub start_time: Timestamp,
    /// When it left.
    pub end_time: Option<Timestamp>,
    /// Seconds connected, set when it leaves.
    pub duration: Option<i64>,
    /// Why it left.
    pub end_reason: Option<EndReason>,
}

impl Participant {
    /// A participant that connects at `now`.
    #[must_use]
    pub fn connect(
        sid: ParticipantSid,
        room_sid: RoomSid,
        account_sid: AccountSid,
        identity: String,
        now: Timestamp,
    ) -> Self {
        Self {
            sid,
            room_sid,
            account_sid,
            identity,
            status: ParticipantStatus::Connected,
            date_created: now,
            date_updated: now,
            start_time: now,
            end_time: None,
            duration: None,
            end_reason: None,
        }
    }

    /// Marks the participant disconnected at `now`, with its duration.
    pub fn disconnect(&mut self, now: Timestamp, reason: EndReason) {
        self.status = ParticipantStatus::Disconnected;
        self.end_time = Some(now);
        self.duration = Some(now.whole_secs_since(self.start_time));
        self.date_updated = now;
        self.end_reason = Some(reason);
    }
}
