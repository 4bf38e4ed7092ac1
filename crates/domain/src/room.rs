//! Rooms: their types and limits, the settings a room is created with, and the stored record.

use crate::error::Error;
use crate::names::validate_room_name;
use crate::rules::RecordingRule;
use crate::sid::{AccountSid, RoomSid};
use crate::time::{Span, Timestamp};

/// The four room types Twilio has had. `group` is the only one Twilio still sells; the others keep
/// their historical limits so old apps behave as they did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomType {
    /// Up to 50 participants (more with `LargeRoom`), media through the SFU.
    Group,
    /// Up to 4 participants, media through the SFU.
    GroupSmall,
    /// Up to 10 participants, peer-to-peer media in Twilio (here: through the SFU).
    PeerToPeer,
    /// Up to 2 participants, peer-to-peer media in Twilio (here: through the SFU).
    Go,
}

impl RoomType {
    /// Every type, in the order of Twilio's enum.
    pub const ALL: [RoomType; 4] = [Self::Group, Self::Go, Self::PeerToPeer, Self::GroupSmall];

    /// The wire name (`group`, `group-small`, `peer-to-peer`, `go`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::GroupSmall => "group-small",
            Self::PeerToPeer => "peer-to-peer",
            Self::Go => "go",
        }
    }

    /// Parses a wire name.
    ///
    /// # Errors
    /// `RoomTypeInvalid` for anything else.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or(Error::RoomTypeInvalid)
    }

    /// The largest `MaxParticipants` this type accepts.
    #[must_use]
    pub const fn max_participants_limit(self, large_room: bool) -> u32 {
        match self {
            Self::Group if large_room => LARGE_ROOM_MAX_PARTICIPANTS,
            Self::Group => 50,
            Self::GroupSmall => 4,
            Self::PeerToPeer => 10,
            Self::Go => 2,
        }
    }

    /// Whether rooms of this type go through a media server in Twilio (and so support recording,
    /// audio-only and media regions).
    #[must_use]
    pub const fn has_media_server(self) -> bool {
        matches!(self, Self::Group | Self::GroupSmall)
    }

    /// Twilio's reported cap on concurrently published tracks (0 means unconstrained).
    #[must_use]
    pub const fn default_max_published_tracks(self) -> u32 {
        match self {
            Self::Group | Self::GroupSmall => 170,
            Self::PeerToPeer | Self::Go => 0,
        }
    }
}

/// The participant cap of a `LargeRoom` group room.
pub const LARGE_ROOM_MAX_PARTICIPANTS: u32 = 1000;

/// A room's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RoomStatus {
    /// Open for participants.
    InProgress,
    /// Ended (by REST, timeout, or shutdown); kept for history.
    Completed,
    /// Could not be set up (never produced by vroom today, kept for the wire enum).
    Failed,
}

impl RoomStatus {
    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "in-progress",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Parses a wire name; `None` for anything else.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::InProgress, Self::Completed, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// A video codec a room allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// VP8
    Vp8,
    /// H.264
    H264,
}

impl VideoCodec {
    /// The wire name (`VP8`, `H264`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Vp8 => "VP8",
            Self::H264 => "H264",
        }
    }

    /// Parses a wire name; `None` for anything else.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Vp8, Self::H264]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// Twilio's media regions (`gll` is "global low latency").
pub const MEDIA_REGIONS: [&str; 10] = [
    "gll", "au1", "br1", "de1", "ie1", "in1", "jp1", "sg1", "us1", "us2",
];

/// The HTTP method of a status callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackMethod {
    /// Parameters in the query string.
    Get,
    /// Parameters in a form body (the default).
    Post,
}

impl CallbackMethod {
    /// `GET` or `POST`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }

    /// Parses `GET`/`POST` (any case, as Twilio accepts).
    ///
    /// # Errors
    /// `StatusCallbackMethodInvalid` for anything else.
    pub fn parse(s: &str) -> Result<Self, Error> {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Ok(Self::Get),
            "POST" => Ok(Self::Post),
            _ => Err(Error::StatusCallbackMethodInvalid),
        }
    }
}

/// Everything a room is configured with at creation. Immutable afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSettings {
    /// Room type.
    pub room_type: RoomType,
    /// Participant cap.
    pub max_participants: u32,
    /// Longest a participant may stay, in seconds.
    pub max_participant_duration: u32,
    /// Cap on published tracks (0 = unconstrained).
    pub max_concurrent_published_tracks: u32,
    /// Record participants when they connect (stored; recording is not built).
    pub record_participants_on_connect: bool,
    /// Transcribe participants when they connect (stored; transcription is not built).
    pub transcribe_participants_on_connect: bool,
    /// Transcription settings as the JSON object the caller sent (stored verbatim).
    pub transcriptions_configuration: Option<String>,
    /// Allowed video codecs.
    pub video_codecs: Vec<VideoCodec>,
    /// Media region label.
    pub media_region: String,
    /// Only audio tracks may be published.
    pub audio_only: bool,
    /// Minutes an empty room stays open after its last participant left.
    pub empty_room_timeout: u32,
    /// Minutes a room nobody joined stays open.
    pub unused_room_timeout: u32,
    /// Large-room flag (raises the participant cap of group rooms).
    pub large_room: bool,
    /// Participants get vroom's TURN server (`EnableTurn`, default true; Twilio deprecated it and
    /// always reports true, vroom withholds TURN from the participants of a room created with false).
    pub enable_turn: bool,
    /// Where status callbacks go.
    pub status_callback: Option<String>,
    /// How status callbacks are sent.
    pub status_callback_method: CallbackMethod,
    /// Recording rules (stored; recording is not built).
    pub recording_rules: Vec<RecordingRule>,
}

/// The stored room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// `RM…`
    pub sid: RoomSid,
    /// Owning account.
    pub account_sid: AccountSid,
    /// Name unique among in-progress rooms; the SID when the creator gave none.
    pub unique_name: String,
    /// Status.
    pub status: RoomStatus,
    /// Created by a client connecting to an unknown name rather than by REST.
    pub ad_hoc: bool,
    /// Configuration.
    pub settings: RoomSettings,
    /// Creation time.
    pub date_created: Timestamp,
    /// Last change.
    pub date_updated: Timestamp,
    /// When it ended.
    pub end_time: Option<Timestamp>,
    /// Seconds from creation to end.
    pub duration: Option<i64>,
}

impl Room {
    /// A room that starts now, in progress: named `name`, or by its SID when it has none.
    #[must_use]
    pub fn started(
        sid: RoomSid,
        account_sid: AccountSid,
        name: Option<String>,
        settings: RoomSettings,
        ad_hoc: bool,
        now: Timestamp,
    ) -> Self {
        Self {
            sid,
            account_sid,
            unique_name: name.unwrap_or_else(|| sid.to_string()),
            status: RoomStatus::InProgress,
            ad_hoc,
            settings,
            date_created: now,
            date_updated: now,
            end_time: None,
            duration: None,
        }
    }

    /// Ends the room at `now`: completed, with end time and duration.
    pub fn complete(&mut self, now: Timestamp) {
        self.status = RoomStatus::Completed;
        self.end_time = Some(now);
        self.duration = Some(now.whole_secs_since(self.date_created));
        self.date_updated = now;
    }

    /// Whether the room still takes participants.
    #[must_use]
    pub fn is_in_progress(&self) -> bool {
        self.status == RoomStatus::InProgress
    }

    /// How long an empty room stays open.
    #[must_use]
    pub fn empty_timeout(&self) -> Span {
        Span::from_mins(i64::from(self.settings.empty_room_timeout))
    }

    /// How long a never-joined room stays open.
    #[must_use]
    pub fn unused_timeout(&self) -> Span {
        Span::from_mins(i64::from(self.settings.unused_room_timeout))
    }
}

/// A request to create a room, as parsed from the wire but not yet checked against the rules.
/// Every field is optional; `validate` applies Twilio's defaults and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRoom {
    /// `Type`
    pub room_type: Option<RoomType>,
    /// `UniqueName`
    pub unique_name: Option<String>,
    /// `StatusCallback`
    pub status_callback: Option<String>,
    /// `StatusCallbackMethod`
    pub status_callback_method: Option<CallbackMethod>,
    /// `MaxParticipants`
    pub max_participants: Option<i64>,
    /// `RecordParticipantsOnConnect`
    pub record_participants_on_connect: Option<bool>,
    /// `TranscribeParticipantsOnConnect`
    pub transcribe_participants_on_connect: Option<bool>,
    /// `TranscriptionsConfiguration` (JSON object text)
    pub transcriptions_configuration: Option<String>,
    /// `VideoCodecs`
    pub video_codecs: Option<Vec<VideoCodec>>,
    /// `MediaRegion`
    pub media_region: Option<String>,
    /// `RecordingRules`
    pub recording_rules: Option<Vec<RecordingRule>>,
    /// `AudioOnly`
    pub audio_only: Option<bool>,
    /// `MaxParticipantDuration`
    pub max_participant_duration: Option<i64>,
    /// `EmptyRoomTimeout`
    pub empty_room_timeout: Option<i64>,
    /// `UnusedRoomTimeout`
    pub unused_room_timeout: Option<i64>,
    /// `LargeRoom`
    pub large_room: Option<bool>,
    /// `EnableTurn`
    pub enable_turn: Option<bool>,
}

/// Default `MaxParticipantDuration` (4 h).
pub const DEFAULT_MAX_PARTICIPANT_DURATION: u32 = 14_400;
/// Smallest accepted `MaxParticipantDuration`.
pub const MIN_MAX_PARTICIPANT_DURATION: i64 = 600;
/// Largest accepted `MaxParticipantDuration` (24 h).
pub const MAX_MAX_PARTICIPANT_DURATION: i64 = 86_400;
/// Default empty and unused room timeouts, minutes.
pub const DEFAULT_ROOM_TIMEOUT_MINS: u32 = 5;
/// Longest accepted status callback URL.
pub const MAX_CALLBACK_URL_LEN: usize = 4096;

impl CreateRoom {
    /// Applies defaults and checks every rule, in the order Twilio reports them.
    ///
    /// # Errors
    /// The first broken rule.
    pub fn validate(self) -> Result<(Option<String>, RoomSettings), Error> {
        let room_type = self.room_type.unwrap_or(RoomType::Group);
        let large_room = self.large_room.unwrap_or(false);
        if let Some(name) = &self.unique_name {
            validate_room_name(name)?;
        }
        let limit = room_type.max_participants_limit(large_room);
        let max_participants = match self.max_participants {
            None => limit,
            Some(n) if n >= 1 && n <= i64::from(limit) => u32::try_from(n).unwrap_or(limit),
            Some(_) => return Err(Error::MaxParticipantsOutOfRange { max: limit }),
        };
        let max_participant_duration = match self.max_participant_duration {
            None => DEFAULT_MAX_PARTICIPANT_DURATION,
            Some(d)
                if (MIN_MAX_PARTICIPANT_DURATION..=MAX_MAX_PARTICIPANT_DURATION).contains(&d) =>
            {
                u32::try_from(d).unwrap_or(DEFAULT_MAX_PARTICIPANT_DURATION)
            }
            Some(_) => return Err(Error::MaxParticipantDurationOutOfRange),
        };
        let empty_room_timeout = timeout_minutes(self.empty_room_timeout, "EmptyRoomTimeout")?;
        let unused_room_timeout = timeout_minutes(self.unused_room_timeout, "UnusedRoomTimeout")?;
        if let Some(url) = &self.status_callback {
            validate_callback_url(url)?;
        }
        let audio_only = self.audio_only.unwrap_or(false);
        if audio_only && !room_type.has_media_server() {
            return Err(Error::AudioOnlyNotSupported);
        }
        let record = self.record_participants_on_connect.unwrap_or(false);
        if record && !room_type.has_media_server() {
            return Err(Error::IncompatibleWithRoomType {
                param: "RecordParticipantsOnConnect",
            });
        }
        if large_room && room_type != RoomType::Group {
            return Err(Error::IncompatibleWithRoomType { param: "LargeRoom" });
        }
        let media_region = match self.media_region {
            None => DEFAULT_MEDIA_REGION.to_owned(),
            Some(r) if MEDIA_REGIONS.contains(&r.as_str()) => r,
            Some(_) => {
                return Err(Error::MediaRegionInvalid {
                    regions: "gll, au1, br1, de1, ie1, in1, jp1, sg1, us1, us2",
                });
            }
        };
        let mut video_codecs = self.video_codecs.unwrap_or_else(|| vec![VideoCodec::Vp8]);
        video_codecs.dedup();
        if video_codecs.is_empty() {
            video_codecs.push(VideoCodec::Vp8);
        }
        let recording_rules = match self.recording_rules {
            None => Vec::new(),
            Some(rules) => {
                crate::rules::validate_recording_rules(&rules)?;
                rules
            }
        };
        let settings = RoomSettings {
            room_type,
            max_participants,
            max_participant_duration,
            max_concurrent_published_tracks: room_type.default_max_published_tracks(),
            record_participants_on_connect: record,
            transcribe_participants_on_connect: self
                .transcribe_participants_on_connect
                .unwrap_or(false),
            transcriptions_configuration: self.transcriptions_configuration,
            video_codecs,
            media_region,
            audio_only,
            empty_room_timeout,
            unused_room_timeout,
            large_room,
            enable_turn: self.enable_turn.unwrap_or(true),
            status_callback: self.status_callback,
            status_callback_method: self.status_callback_method.unwrap_or(CallbackMethod::Post),
            recording_rules,
        };
        Ok((self.unique_name, settings))
    }
}

/// The media region rooms report when none was asked for.
pub const DEFAULT_MEDIA_REGION: &str = "us1";

fn timeout_minutes(v: Option<i64>, param: &'static str) -> Result<u32, Error> {
    match v {
        None => Ok(DEFAULT_ROOM_TIMEOUT_MINS),
        Some(m) if (1..=60).contains(&m) => {
            Ok(u32::try_from(m).unwrap_or(DEFAULT_ROOM_TIMEOUT_MINS))
        }
        Some(_) => Err(Error::TimeoutOutOfRange { param }),
    }
}

/// A status callback must be an absolute http(s) URL with a host.
///
/// # Errors
/// `StatusCallbackInvalid`.
pub fn validate_callback_url(url: &str) -> Result<(), Error> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or(Error::StatusCallbackInvalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty()
        || url.len() > MAX_CALLBACK_URL_LEN
        || url.chars().any(|c| c.is_control() || c == ' ')
    {
        return Err(Error::StatusCallbackInvalid);
    }
    Ok(())
}

/// The settings of a room created by a client connecting to a name nobody created (an ad-hoc room):
/// type group and every default, the operator's status callback if one is configured, and, as in
/// Twilio, no wait once empty: the room ends when its last participant leaves.
///
/// # Panics
/// Never: the default request is valid by construction (checked by a unit test).
#[must_use]
pub fn ad_hoc_settings(status_callback: Option<(String, CallbackMethod)>) -> RoomSettings {
    let mut settings = CreateRoom::default()
        .validate()
        .expect("the default room request is valid")
        .1;
    settings.empty_room_timeout = 0;
    if let Some((url, method)) = status_callback {
        settings.status_callback = Some(url);
        settings.status_callback_method = method;
    }
    settings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_twilio() {
        let s = CreateRoom::default().validate().unwrap().1;
        assert_eq!(s.room_type, RoomType::Group);
        assert_eq!(s.max_participants, 50);
        assert_eq!(s.max_participant_duration, 14_400);
        assert_eq!(s.empty_room_timeout, 5);
        assert_eq!(s.unused_room_timeout, 5);
        assert_eq!(s.status_callback_method, CallbackMethod::Post);
        assert_eq!(s.video_codecs, vec![VideoCodec::Vp8]);
        let ad_hoc = ad_hoc_settings(Some(("https://example.com/cb".into(), CallbackMethod::Get)));
        assert_eq!(
            ad_hoc.empty_room_timeout, 0,
            "an ad-hoc room ends when its last participant leaves"
        );
        assert_eq!(ad_hoc.status_callback_method, CallbackMethod::Get);
    }

    #[test]
    fn limits_per_type() {
        let req = |t, n| CreateRoom {
            room_type: Some(t),
            max_participants: Some(n),
            ..Default::default()
        };
        assert!(req(RoomType::Go, 2).validate().is_ok());
        assert_eq!(
            req(RoomType::Go, 3).validate().unwrap_err(),
            Error::MaxParticipantsOutOfRange { max: 2 }
        );
        assert!(req(RoomType::PeerToPeer, 10).validate().is_ok());
        assert!(req(RoomType::GroupSmall, 5).validate().is_err());
        assert!(req(RoomType::Group, 51).validate().is_err());
        assert!(req(RoomType::Group, 0).validate().is_err());
        let large = CreateRoom {
            max_participants: Some(90),
            large_room: Some(true),
            ..Default::default()
        };
        assert_eq!(large.validate().unwrap().1.max_participants, 90);
        let bad = CreateRoom {
            audio_only: Some(true),
            room_type: Some(RoomType::Go),
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err(), Error::AudioOnlyNotSupported);
    }

    #[test]
    fn ranges() {
        let t = |e| {
            CreateRoom {
                empty_room_timeout: Some(e),
                ..Default::default()
            }
            .validate()
        };
        assert!(t(1).is_ok() && t(60).is_ok());
        assert_eq!(t(0).unwrap_err().code(), 53109);
        assert_eq!(t(61).unwrap_err().code(), 53109);
        let d = |v| {
            CreateRoom {
                max_participant_duration: Some(v),
                ..Default::default()
            }
            .validate()
        };
        assert!(d(600).is_ok() && d(86_400).is_ok());
        assert_eq!(d(599).unwrap_err().code(), 53123);
        assert!(validate_callback_url("https://example.com/cb?x=1").is_ok());
        assert!(validate_callback_url("ftp://example.com").is_err());
        assert!(validate_callback_url("http:///nohost").is_err());
    }
}
