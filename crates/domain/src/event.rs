//! Status-callback events: the facts of one room event, captured when it happens.
//!
//! Events are produced by the live-room state machine in the same step as the state change they
//! describe, stored with it in one transaction, and rendered into Twilio's callback parameters only at
//! delivery time (by the webhooks part).

use crate::participant::ParticipantStatus;
use crate::room::{CallbackMethod, Room, RoomStatus, RoomType};
use crate::sid::{AccountSid, ParticipantSid, RoomSid, TrackSid};
use crate::time::Timestamp;
use crate::track::TrackKind;

/// Which event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `room-created`
    RoomCreated,
    /// `room-ended`
    RoomEnded,
    /// `participant-connected`
    ParticipantConnected,
    /// `participant-disconnected`
    ParticipantDisconnected,
    /// `track-added`
    TrackAdded,
    /// `track-removed`
    TrackRemoved,
    /// `track-enabled`
    TrackEnabled,
    /// `track-disabled`
    TrackDisabled,
}

impl EventKind {
    /// Twilio's `StatusCallbackEvent` value.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::RoomCreated => "room-created",
            Self::RoomEnded => "room-ended",
            Self::ParticipantConnected => "participant-connected",
            Self::ParticipantDisconnected => "participant-disconnected",
            Self::TrackAdded => "track-added",
            Self::TrackRemoved => "track-removed",
            Self::TrackEnabled => "track-enabled",
            Self::TrackDisabled => "track-disabled",
        }
    }

    /// Parses a stored value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::RoomCreated,
            Self::RoomEnded,
            Self::ParticipantConnected,
            Self::ParticipantDisconnected,
            Self::TrackAdded,
            Self::TrackRemoved,
            Self::TrackEnabled,
            Self::TrackDisabled,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// The participant an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantFacts {
    /// `PA…`
    pub sid: ParticipantSid,
    /// Identity.
    pub identity: String,
    /// Status at the event.
    pub status: ParticipantStatus,
    /// Seconds connected (only on participant-disconnected).
    pub duration: Option<i64>,
}

/// The track an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackFacts {
    /// `MT…`
    pub sid: TrackSid,
    /// Kind.
    pub kind: TrackKind,
    /// Name.
    pub name: String,
}

/// One status-callback event, with where it must be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusEvent {
    /// Which event.
    pub kind: EventKind,
    /// Callback URL (from the room).
    pub url: String,
    /// Callback method (from the room).
    pub method: CallbackMethod,
    /// Account.
    pub account_sid: AccountSid,
    /// Room.
    pub room_sid: RoomSid,
    /// Room unique name.
    pub room_name: String,
    /// Room status at the event.
    pub room_status: RoomStatus,
    /// Room type.
    pub room_type: RoomType,
    /// Room duration (only on room-ended).
    pub room_duration: Option<i64>,
    /// Participant facts (participant and track events).
    pub participant: Option<ParticipantFacts>,
    /// Track facts (track events).
    pub track: Option<TrackFacts>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Per-room counter, increasing in the order events happened.
    pub sequence_number: u64,
}

impl StatusEvent {
    /// A room-level event for `room` as it is now, or `None` when the room has no status callback.
    #[must_use]
    pub fn for_room(
        room: &Room,
        kind: EventKind,
        at: Timestamp,
        sequence_number: u64,
    ) -> Option<Self> {
        let url = room.settings.status_callback.clone()?;
        Some(Self {
            kind,
            url,
            method: room.settings.status_callback_method,
            account_sid: room.account_sid,
            room_sid: room.sid,
            room_name: room.unique_name.clone(),
            room_status: room.status,
            room_type: room.settings.room_type,
            room_duration: if kind == EventKind::RoomEnded {
                room.duration
            } else {
                None
            },
            participant: None,
            track: None,
            timestamp: at,
            sequence_number,
        })
    }
}
