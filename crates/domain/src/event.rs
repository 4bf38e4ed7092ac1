//! Status-callback events: the facts of one room, recording or composition event, captured when it
//! happens.
//!
//! Room events are produced by the live-room state machine in the same step as the state change they
//! describe; recording and composition events by whoever settles the recording or runs the
//! composition, in the write that changes its status. Either way an event is stored with its change
//! in one transaction, and rendered into Twilio's callback parameters only at delivery time (by the
//! webhooks part). Every event goes out in its room's order: a composition's events queue behind its
//! room's.

use crate::composition::Composition;
use crate::participant::ParticipantStatus;
use crate::recording::{Recording, RecordingCodec};
use crate::room::{CallbackMethod, Room, RoomStatus, RoomType};
use crate::sid::{
    AccountSid, CompositionHookSid, CompositionSid, ParticipantSid, RecordingSid, RoomSid, TrackSid,
};
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
    /// `recording-started` (to the room's callback)
    RecordingStarted,
    /// `recording-completed`
    RecordingCompleted,
    /// `recording-failed`
    RecordingFailed,
    /// `composition-enqueued` (to the composition's callback)
    CompositionEnqueued,
    /// `composition-started`
    CompositionStarted,
    /// `composition-progress`: every tenth of the work
    CompositionProgress,
    /// `composition-available`: completed, its media can be fetched
    CompositionAvailable,
    /// `composition-failed`
    CompositionFailed,
}

const KINDS: [EventKind; 16] = [
    EventKind::RoomCreated,
    EventKind::RoomEnded,
    EventKind::ParticipantConnected,
    EventKind::ParticipantDisconnected,
    EventKind::TrackAdded,
    EventKind::TrackRemoved,
    EventKind::TrackEnabled,
    EventKind::TrackDisabled,
    EventKind::RecordingStarted,
    EventKind::RecordingCompleted,
    EventKind::RecordingFailed,
    EventKind::CompositionEnqueued,
    EventKind::CompositionStarted,
    EventKind::CompositionProgress,
    EventKind::CompositionAvailable,
    EventKind::CompositionFailed,
];

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
            Self::RecordingStarted => "recording-started",
            Self::RecordingCompleted => "recording-completed",
            Self::RecordingFailed => "recording-failed",
            Self::CompositionEnqueued => "composition-enqueued",
            Self::CompositionStarted => "composition-started",
            Self::CompositionProgress => "composition-progress",
            Self::CompositionAvailable => "composition-available",
            Self::CompositionFailed => "composition-failed",
        }
    }

    /// Parses a stored value.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        KINDS.into_iter().find(|k| k.as_str() == s)
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

/// The recording a recording event is about, as it was at the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFacts {
    /// `RT…`
    pub sid: RecordingSid,
    /// The publisher.
    pub participant_sid: ParticipantSid,
    /// The publisher's identity.
    pub participant_identity: String,
    /// The recorded track (`SourceSid`).
    pub track_sid: TrackSid,
    /// The track's name.
    pub track_name: String,
    /// Audio or video.
    pub kind: TrackKind,
    /// The codec written.
    pub codec: RecordingCodec,
    /// Milliseconds from the epoch to the media's start (the resource's `offset`).
    pub offset: i64,
    /// Seconds of media (completed).
    pub duration: Option<u32>,
    /// Bytes of the file (completed).
    pub size: u64,
    /// What went wrong (failed).
    pub failure: Option<String>,
}

impl RecordingFacts {
    /// The facts of `r`, published by `identity`.
    #[must_use]
    pub fn of(r: &Recording, identity: &str, failure: Option<String>) -> Self {
        Self {
            sid: r.sid,
            participant_sid: r.participant_sid,
            participant_identity: identity.to_owned(),
            track_sid: r.track_sid,
            track_name: r.track_name.clone(),
            kind: r.kind,
            codec: r.codec,
            offset: r.offset,
            duration: r.duration,
            size: r.size,
            failure,
        }
    }

    /// `mka` for audio, `mkv` for video.
    #[must_use]
    pub const fn container(&self) -> &'static str {
        match self.kind {
            TrackKind::Audio => "mka",
            _ => "mkv",
        }
    }
}

/// The composition a composition event is about, as it was at the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompositionFacts {
    /// `CJ…`
    pub sid: CompositionSid,
    /// The composition hook that made it, if one did.
    pub hook: Option<CompositionHookSid>,
    /// Percent of the work done (progress).
    pub percentage_done: u8,
    /// Seconds of work left, as estimated from the pace so far (progress).
    pub seconds_remaining: Option<u64>,
    /// Seconds of media (available).
    pub duration: u32,
    /// Bytes of the file (available).
    pub size: u64,
    /// What went wrong (failed).
    pub error: Option<String>,
}

impl CompositionFacts {
    /// The facts of `c` as it is now.
    #[must_use]
    pub fn of(c: &Composition) -> Self {
        Self {
            sid: c.sid,
            hook: c.hook,
            percentage_done: c.progress,
            seconds_remaining: None,
            duration: c.duration,
            size: c.size,
            error: c.error.clone(),
        }
    }
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
    /// Recording facts (recording events).
    pub recording: Option<RecordingFacts>,
    /// Composition facts (composition events).
    pub composition: Option<CompositionFacts>,
    /// When it happened.
    pub timestamp: Timestamp,
    /// Per-room counter, increasing in the order events happened.
    pub sequence_number: u64,
}

impl StatusEvent {
    /// An event about `room` as it is now, to `url`, with no participant, track, recording or
    /// composition facts yet: the fields every event shares.
    fn about_room(
        room: &Room,
        kind: EventKind,
        (url, method): (String, CallbackMethod),
        at: Timestamp,
        sequence_number: u64,
    ) -> Self {
        Self {
            kind,
            url,
            method,
            account_sid: room.account_sid,
            room_sid: room.sid,
            room_name: room.unique_name.clone(),
            room_status: room.status,
            room_type: room.settings.room_type,
            room_duration: None,
            participant: None,
            track: None,
            recording: None,
            composition: None,
            timestamp: at,
            sequence_number,
        }
    }

    /// A room-level event for `room` as it is now, or `None` when the room has no status callback.
    #[must_use]
    pub fn for_room(
        room: &Room,
        kind: EventKind,
        at: Timestamp,
        sequence_number: u64,
    ) -> Option<Self> {
        let url = room.settings.status_callback.clone()?;
        let mut ev = Self::about_room(
            room,
            kind,
            (url, room.settings.status_callback_method),
            at,
            sequence_number,
        );
        if kind == EventKind::RoomEnded {
            ev.room_duration = room.duration;
        }
        Some(ev)
    }

    /// A recording event of `rec` in `room` (to the room's status callback), or `None` when the
    /// room has none.
    #[must_use]
    pub fn for_recording(
        room: &Room,
        kind: EventKind,
        facts: RecordingFacts,
        at: Timestamp,
        sequence_number: u64,
    ) -> Option<Self> {
        let mut ev = Self::for_room(room, kind, at, sequence_number)?;
        ev.room_duration = None;
        ev.recording = Some(facts);
        Some(ev)
    }

    /// A composition event of `c` (a composition of `room`) to the composition's status callback,
    /// or `None` when it has none.
    #[must_use]
    pub fn for_composition(
        room: &Room,
        c: &Composition,
        kind: EventKind,
        facts: CompositionFacts,
        at: Timestamp,
        sequence_number: u64,
    ) -> Option<Self> {
        let url = c.spec.status_callback.clone()?;
        let mut ev = Self::about_room(
            room,
            kind,
            (url, c.spec.status_callback_method),
            at,
            sequence_number,
        );
        ev.account_sid = c.account_sid;
        ev.composition = Some(facts);
        Some(ev)
    }
}
