//! Twilio's JSON resources, built from domain records. Field names and order follow the OpenAPI spec
//! (`video.v1.room`, `video.v1.room.room_participant`, …); dates are `YYYY-MM-DDTHH:MM:SSZ`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use vroom_domain::live::{ParticipantView, Subscription};
use vroom_domain::participant::Participant;
use vroom_domain::room::Room;
use vroom_domain::rules::RecordingRule;
use vroom_domain::time::Timestamp;
use vroom_domain::track::PublishedTrack;

use crate::error::ApiError;

/// Formats a timestamp the way Twilio's resources do (whole seconds, `Z`).
#[must_use]
pub fn date(t: Timestamp) -> String {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write;
    // Field by field: chrono's `format` parses its pattern again for every date, which was a
    // good part of rendering a list page.
    let d = t.to_chrono();
    let mut s = String::with_capacity(20);
    let _ = write!(
        s,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        d.year(),
        d.month(),
        d.day(),
        d.hour(),
        d.minute(),
        d.second()
    );
    s
}

fn opt_date(t: Option<Timestamp>) -> Option<String> {
    t.map(date)
}

/// Parses a date filter: `YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time (`Z` or an offset).
///
/// # Errors
/// `BadParameter` naming `name`.
pub fn parse_date(name: &'static str, value: &str) -> Result<Timestamp, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(Timestamp::from_chrono(t.with_timezone(&Utc)));
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        if let Some(t) = midnight {
            return Ok(Timestamp::from_chrono(t));
        }
    }
    Err(ApiError::param(
        name,
        format!(
            "'{}' is not a date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM:SSZ)",
            crate::form::shorten(value)
        ),
    ))
}

/// `video.v1.room`.
#[derive(Debug, Serialize)]
pub struct RoomResource {
    sid: String,
    status: &'static str,
    date_created: String,
    date_updated: String,
    account_sid: String,
    enable_turn: bool,
    unique_name: String,
    status_callback: Option<String>,
    status_callback_method: &'static str,
    end_time: Option<String>,
    duration: Option<i64>,
    #[serde(rename = "type")]
    room_type: &'static str,
    max_participants: u32,
    max_participant_duration: u32,
    max_concurrent_published_tracks: u32,
    record_participants_on_connect: bool,
    video_codecs: Vec<&'static str>,
    media_region: String,
    audio_only: bool,
    empty_room_timeout: u32,
    unused_room_timeout: u32,
    large_room: bool,
    url: String,
    links: RoomLinks,
}

/// A room's `links`.
#[derive(Debug, Serialize)]
struct RoomLinks {
    participants: String,
    recordings: String,
    transcriptions: String,
    recording_rules: String,
}

impl RoomResource {
    /// The resource of `room`, with absolute URLs under `base` (the public URL).
    #[must_use]
    pub fn new(room: &Room, base: &str) -> Self {
        let s = &room.settings;
        let url = format!("{base}/v1/Rooms/{}", room.sid);
        Self {
            sid: room.sid.to_string(),
            status: room.status.as_str(),
            date_created: date(room.date_created),
            date_updated: date(room.date_updated),
            account_sid: room.account_sid.to_string(),
            enable_turn: s.enable_turn,
            unique_name: room.unique_name.clone(),
            status_callback: s.status_callback.clone(),
            status_callback_method: s.status_callback_method.as_str(),
            end_time: opt_date(room.end_time),
            duration: room.duration,
            room_type: s.room_type.as_str(),
            max_participants: s.max_participants,
            max_participant_duration: s.max_participant_duration,
            max_concurrent_published_tracks: s.max_concurrent_published_tracks,
            record_participants_on_connect: s.record_participants_on_connect,
            video_codecs: s.video_codecs.iter().map(|c| c.as_str()).collect(),
            media_region: s.media_region.clone(),
            audio_only: s.audio_only,
            empty_room_timeout: s.empty_room_timeout,
            unused_room_timeout: s.unused_room_timeout,
            large_room: s.large_room,
            links: RoomLinks {
                participants: format!("{url}/Participants"),
                recordings: format!("{url}/Recordings"),
                transcriptions: format!("{url}/Transcriptions"),
                recording_rules: format!("{url}/RecordingRules"),
            },
            url,
        }
    }
}

/// `video.v1.room.room_participant` (and its `Anonymize` variant, which has no links).
#[derive(Debug, Serialize)]
pub struct ParticipantResource {
    sid: String,
    room_sid: String,
    account_sid: String,
    status: &'static str,
    identity: String,
    date_created: String,
    date_updated: String,
    start_time: String,
    end_time: Option<String>,
    duration: Option<i64>,
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    links: Option<ParticipantLinks>,
}

/// A participant's `links`.
#[derive(Debug, Serialize)]
struct ParticipantLinks {
    published_tracks: String,
    subscribed_tracks: String,
    subscribe_rules: String,
    anonymize: String,
}

impl ParticipantResource {
    /// The resource of `p` under `base`.
    #[must_use]
    pub fn new(p: &Participant, base: &str) -> Self {
        let url = format!("{base}/v1/Rooms/{}/Participants/{}", p.room_sid, p.sid);
        Self {
            sid: p.sid.to_string(),
            room_sid: p.room_sid.to_string(),
            account_sid: p.account_sid.to_string(),
            status: p.status.as_str(),
            identity: p.identity.clone(),
            date_created: date(p.date_created),
            date_updated: date(p.date_updated),
            start_time: date(p.start_time),
            end_time: opt_date(p.end_time),
            duration: p.duration,
            links: Some(ParticipantLinks {
                published_tracks: format!("{url}/PublishedTracks"),
                subscribed_tracks: format!("{url}/SubscribedTracks"),
                subscribe_rules: format!("{url}/SubscribeRules"),
                anonymize: format!("{url}/Anonymize"),
            }),
            url,
        }
    }

    /// The `Anonymize` answer: no links, and the URL of the anonymize action.
    #[must_use]
    pub fn anonymized(p: &Participant, base: &str) -> Self {
        let mut r = Self::new(p, base);
        r.links = None;
        r.url = format!("{}/Anonymize", r.url);
        r
    }
}

/// `video.v1.room.room_participant.room_participant_published_track`.
#[derive(Debug, Serialize)]
pub struct PublishedTrackResource {
    sid: String,
    participant_sid: String,
    room_sid: String,
    name: String,
    date_created: String,
    date_updated: String,
    enabled: bool,
    kind: &'static str,
    url: String,
}

impl PublishedTrackResource {
    /// The resource of track `t` published by `publisher` in `room`.
    #[must_use]
    pub fn new(room: &Room, publisher: &ParticipantView, t: &PublishedTrack, base: &str) -> Self {
        Self {
            sid: t.sid.to_string(),
            participant_sid: publisher.sid.to_string(),
            room_sid: room.sid.to_string(),
            name: t.info.name.clone(),
            date_created: date(t.date_created),
            date_updated: date(t.date_updated),
            enabled: t.info.enabled,
            kind: t.info.kind.as_str(),
            url: format!(
                "{base}/v1/Rooms/{}/Participants/{}/PublishedTracks/{}",
                room.sid, publisher.sid, t.sid
            ),
        }
    }
}

/// `video.v1.room.room_participant.room_participant_subscribed_track`.
#[derive(Debug, Serialize)]
pub struct SubscribedTrackResource {
    sid: String,
    participant_sid: String,
    publisher_sid: String,
    room_sid: String,
    name: String,
    date_created: String,
    date_updated: String,
    enabled: bool,
    kind: &'static str,
    url: String,
}

impl SubscribedTrackResource {
    /// The resource of subscription `s` of `subscriber` in `room`.
    #[must_use]
    pub fn new(room: &Room, subscriber: &Participant, s: &Subscription, base: &str) -> Self {
        Self {
            sid: s.track.to_string(),
            participant_sid: subscriber.sid.to_string(),
            publisher_sid: s.publisher.to_string(),
            room_sid: room.sid.to_string(),
            name: s.name.clone(),
            date_created: date(s.since),
            date_updated: date(s.since),
            enabled: s.enabled,
            kind: s.kind.as_str(),
            url: format!(
                "{base}/v1/Rooms/{}/Participants/{}/SubscribedTracks/{}",
                room.sid, subscriber.sid, s.track
            ),
        }
    }
}

/// Recording rules as JSON objects (unused filters omitted, as Twilio's live API shows them).
#[must_use]
pub fn rules_json(rules: &[RecordingRule]) -> Value {
    Value::Array(
        rules
            .iter()
            .map(|r| {
                let mut o = serde_json::Map::new();
                o.insert("type".into(), json!(r.rule_type.as_str()));
                if let Some(all) = r.all {
                    o.insert("all".into(), json!(all));
                }
                if let Some(k) = r.kind {
                    o.insert("kind".into(), json!(k.as_str()));
                }
                if let Some(p) = &r.publisher {
                    o.insert("publisher".into(), json!(p));
                }
                if let Some(t) = &r.track {
                    o.insert("track".into(), json!(t));
                }
                if let Some(p) = &r.priority {
                    o.insert("priority".into(), json!(p));
                }
                Value::Object(o)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            date(Timestamp::from_millis(1_500_000_000_999)),
            "2017-07-14T02:40:00Z"
        );
        assert_eq!(
            parse_date("X", "2024-01-02").unwrap(),
            Timestamp::from_secs(1_704_153_600)
        );
        assert_eq!(
            parse_date("X", "2024-01-02T03:04:05Z").unwrap(),
            Timestamp::from_secs(1_704_164_645)
        );
        assert_eq!(
            parse_date("X", "2024-01-02T04:04:05+01:00").unwrap(),
            Timestamp::from_secs(1_704_164_645)
        );
        assert!(
            parse_date("X", "yesterday")
                .unwrap_err()
                .message()
                .contains('X')
        );
    }
}
