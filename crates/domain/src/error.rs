//! Domain errors: every way a request can break a rule of rooms, participants or tracks.
//!
//! Each variant carries the Twilio error code that Twilio's REST API and signaling use for the same
//! condition; the REST edge and the signaling edge both render from this one table.

/// A broken rule. `code()` is Twilio's number for it; `Display` is the message shown to callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The room name is empty or otherwise unusable.
    #[error("Room name is invalid")]
    RoomNameInvalid,
    /// The room name is longer than 128 characters.
    #[error("Room name is too long (at most 128 characters)")]
    RoomNameTooLong,
    /// The room name contains control characters or '/'.
    #[error("Room name contains invalid characters")]
    RoomNameInvalidChars,
    /// No room could be created (e.g. ad-hoc creation disabled).
    #[error("Unable to create Room")]
    RoomCreateFailed,
    /// The account already has as many rooms in progress as the server allows.
    #[error(
        "Unable to create Room: the account has {limit} Rooms in progress, the most this server allows"
    )]
    TooManyRooms {
        /// The server's limit.
        limit: usize,
    },
    /// The room cannot take another participant.
    #[error("Room contains too many Participants")]
    RoomFull,
    /// No such room.
    #[error("Room not found")]
    RoomNotFound,
    /// `MaxParticipants` outside 1..=limit of the room type.
    #[error("MaxParticipants is out of range: it must be between 1 and {max} for this Room type")]
    MaxParticipantsOutOfRange {
        /// The largest value the room type allows.
        max: u32,
    },
    /// `Type` is not one of the room types.
    #[error("RoomType is not valid: it must be one of group, group-small, peer-to-peer, go")]
    RoomTypeInvalid,
    /// `EmptyRoomTimeout` or `UnusedRoomTimeout` outside 1..=60 minutes.
    #[error("{param} is out of range: it must be a whole number of minutes between 1 and 60")]
    TimeoutOutOfRange {
        /// Which timeout.
        param: &'static str,
    },
    /// `StatusCallbackMethod` is not GET or POST.
    #[error("StatusCallbackMethod is invalid: it must be GET or POST")]
    StatusCallbackMethodInvalid,
    /// `StatusCallback` is not an absolute http(s) URL of reasonable length.
    #[error(
        "StatusCallback is invalid: it must be an absolute http or https URL of at most 4096 characters"
    )]
    StatusCallbackInvalid,
    /// Room `Status` update to something other than completed, or on a room no longer in progress.
    #[error("Status is invalid: only 'completed' can be set, and only on an in-progress Room")]
    RoomStatusInvalid,
    /// An in-progress room already has this UniqueName.
    #[error("Room exists: an in-progress Room already has this UniqueName")]
    RoomExists,
    /// A creation parameter the room type does not support.
    #[error("Room creation parameter(s) incompatible with the Room type: {param}")]
    IncompatibleWithRoomType {
        /// The parameter at fault.
        param: &'static str,
    },
    /// `MediaRegion` is not a known region.
    #[error("MediaRegion is invalid: it must be one of {regions}")]
    MediaRegionInvalid {
        /// The accepted values.
        regions: &'static str,
    },
    /// The operation needs an in-progress room.
    #[error("Room completed")]
    RoomCompleted,
    /// Recording rules break one of Twilio's rules.
    #[error("Invalid Recording Rule(s): {why}")]
    RecordingRulesInvalid {
        /// Which rule was broken.
        why: &'static str,
    },
    /// `MaxParticipantDuration` outside 600..=86400 seconds.
    #[error("MaxParticipantDuration is out of range: it must be between 600 and 86400 seconds")]
    MaxParticipantDurationOutOfRange,
    /// `AudioOnly` requested on a room type without an SFU.
    #[error("AudioOnly flag not supported for the Room type")]
    AudioOnlyNotSupported,
    /// A video track was published in an audio-only room.
    #[error("Track kind not supported by the Room")]
    TrackKindNotSupported,
    /// Identity empty.
    #[error("Participant identity is invalid")]
    IdentityInvalid,
    /// Identity longer than 128 (double-byte characters count twice).
    #[error(
        "Participant identity is too long (at most 128 characters, double-byte characters count twice)"
    )]
    IdentityTooLong,
    /// Identity with control characters.
    #[error("Participant identity contains invalid characters")]
    IdentityInvalidChars,
    /// No such participant.
    #[error("Participant not found")]
    ParticipantNotFound,
    /// Participant `Status` update to something other than disconnected, or an operation the
    /// participant's status does not allow.
    #[error("Participant status is invalid: {why}")]
    ParticipantStatusInvalid {
        /// What was wrong.
        why: &'static str,
    },
    /// Subscribe rules break one of Twilio's rules.
    #[error("Invalid Subscribe Rule(s): {why}")]
    SubscribeRulesInvalid {
        /// Which rule was broken.
        why: &'static str,
    },
    /// The room-wide cap on published tracks was reached.
    #[error("The maximum number of published tracks allowed in the Room has been exceeded")]
    TooManyTracks,
    /// A track name is too long.
    #[error("Track name is too long")]
    TrackNameTooLong,
    /// Another track of the same participant already has this name (any kind).
    #[error("Track name is duplicated")]
    TrackNameDuplicated,
}

impl Error {
    /// Twilio's error code for this condition.
    #[must_use]
    pub const fn code(&self) -> u32 {
        match self {
            Self::RoomNameInvalid => 53100,
            Self::RoomNameTooLong => 53101,
            Self::RoomNameInvalidChars => 53102,
            Self::RoomCreateFailed | Self::TooManyRooms { .. } => 53103,
            Self::RoomFull => 53105,
            Self::RoomNotFound => 53106,
            Self::MaxParticipantsOutOfRange { .. } => 53107,
            Self::RoomTypeInvalid => 53108,
            Self::TimeoutOutOfRange { .. } => 53109,
            Self::StatusCallbackMethodInvalid => 53110,
            Self::StatusCallbackInvalid => 53111,
            Self::RoomStatusInvalid => 53112,
            Self::RoomExists => 53113,
            Self::IncompatibleWithRoomType { .. } => 53114,
            Self::MediaRegionInvalid { .. } => 53115,
            Self::RoomCompleted => 53118,
            Self::RecordingRulesInvalid { .. } => 53120,
            Self::MaxParticipantDurationOutOfRange => 53123,
            Self::AudioOnlyNotSupported => 53124,
            Self::TrackKindNotSupported => 53125,
            Self::IdentityInvalid => 53200,
            Self::IdentityTooLong => 53201,
            Self::IdentityInvalidChars => 53202,
            Self::TooManyTracks => 53203,
            Self::ParticipantNotFound => 53204,
            Self::ParticipantStatusInvalid { .. } => 53209,
            Self::SubscribeRulesInvalid { .. } => 53215,
            Self::TrackNameTooLong => 53302,
            Self::TrackNameDuplicated => 53304,
        }
    }
}
