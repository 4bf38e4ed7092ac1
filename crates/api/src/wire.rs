//! Twilio's JSON resources, built from domain records. Field names and order follow the OpenAPI spec
//! (`video.v1.room`, `video.v1.room.room_participant`, …); dates are `YYYY-MM-DDTHH:MM:SSZ`.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};
use serde_json::{Value, json};
use vroom_domain::live::{ParticipantView, Subscription};
use vroom_domain::participant::Participant;
use vroom_domain::room::{Room, VideoCodec};
use vroom_domain::rules::RecordingRule;
use vroom_domain::sid::RoomSid;
use vroom_domain::time::Timestamp;
use vroom_domain::track::PublishedTrack;

use crate::error::ApiError;

/// Writes `t` as Twilio's resources do (`YYYY-MM-DDTHH:MM:SSZ`, whole seconds) into 20 bytes.
pub(crate) fn date_bytes(t: Timestamp) -> [u8; 20] {
    // Days since 1970-01-01 to a civil date (Howard Hinnant's `civil_from_days`), so no calendar
    // library is called per date: a page of 50 participants writes 200 of them.
    let secs = t.millis().div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00Z";
    let mut put = |at: usize, width: usize, mut v: i64| {
        for i in (0..width).rev() {
            // A digit: `v % 10` of a non-negative value.
            out[at + i] = b'0' + u8::try_from(v.rem_euclid(10)).unwrap_or(0);
            v /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, rem / 3600);
    put(14, 2, rem / 60 % 60);
    put(17, 2, rem % 60);
    out
}

/// Formats a timestamp the way Twilio's resources do (whole seconds, `Z`).
#[must_use]
pub fn date(t: Timestamp) -> String {
    Date(t).to_string()
}

/// A timestamp in Twilio's form, written where it is displayed or serialized, never allocated.
#[derive(Debug, Clone, Copy)]
pub struct Date(pub Timestamp);

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let bytes = date_bytes(self.0);
        // The bytes are ASCII digits and separators.
        f.write_str(std::str::from_utf8(&bytes).map_err(|_| std::fmt::Error)?)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = date_bytes(self.0);
        let text = std::str::from_utf8(&bytes).map_err(serde::ser::Error::custom)?;
        s.serialize_str(text)
    }
}

/// Serializes any `Display` as a JSON string, escaped as `serialize_str` escapes it, without
/// building the `String` first.
struct Text<T>(T);

impl<T: std::fmt::Display> Serialize for Text<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
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

/// `video.v1.room`, serialized straight from the record: no field is copied or formatted into a
/// `String` of its own first (that was most of a list page's cost).
#[derive(Debug, Clone, Copy)]
pub struct RoomResource<'a> {
    room: &'a Room,
    base: &'a str,
}

impl<'a> RoomResource<'a> {
    /// The resource of `room`, with absolute URLs under `base` (the public URL).
    #[must_use]
    pub fn new(room: &'a Room, base: &'a str) -> Self {
        Self { room, base }
    }
}

/// `{base}/v1/Rooms/{sid}{suffix}`.
struct RoomUrl<'a> {
    base: &'a str,
    room: RoomSid,
    suffix: &'static str,
}

impl std::fmt::Display for RoomUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/v1/Rooms/{}{}", self.base, self.room, self.suffix)
    }
}

/// A room's `links`.
struct RoomLinks<'a>(&'a str, RoomSid);

impl Serialize for RoomLinks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let url = |suffix| {
            Text(RoomUrl {
                base: self.0,
                room: self.1,
                suffix,
            })
        };
        let mut m = s.serialize_struct("RoomLinks", 4)?;
        m.serialize_field("participants", &url("/Participants"))?;
        m.serialize_field("recordings", &url("/Recordings"))?;
        m.serialize_field("transcriptions", &url("/Transcriptions"))?;
        m.serialize_field("recording_rules", &url("/RecordingRules"))?;
        m.end()
    }
}

/// A room's `video_codecs`.
struct Codecs<'a>(&'a [VideoCodec]);

impl Serialize for Codecs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|c| c.as_str()))
    }
}

impl Serialize for RoomResource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (r, st) = (self.room, &self.room.settings);
        let mut m = s.serialize_struct("RoomResource", 24)?;
        m.serialize_field("sid", &Text(r.sid))?;
        m.serialize_field("status", r.status.as_str())?;
        m.serialize_field("date_created", &Date(r.date_created))?;
        m.serialize_field("date_updated", &Date(r.date_updated))?;
        m.serialize_field("account_sid", &Text(r.account_sid))?;
        m.serialize_field("enable_turn", &st.enable_turn)?;
        m.serialize_field("unique_name", &r.unique_name)?;
        m.serialize_field("status_callback", &st.status_callback)?;
        m.serialize_field("status_callback_method", st.status_callback_method.as_str())?;
        m.serialize_field("end_time", &r.end_time.map(Date))?;
        m.serialize_field("duration", &r.duration)?;
        m.serialize_field("type", st.room_type.as_str())?;
        m.serialize_field("max_participants", &st.max_participants)?;
        m.serialize_field("max_participant_duration", &st.max_participant_duration)?;
        m.serialize_field(
            "max_concurrent_published_tracks",
            &st.max_concurrent_published_tracks,
        )?;
        m.serialize_field(
            "record_participants_on_connect",
            &st.record_participants_on_connect,
        )?;
        m.serialize_field("video_codecs", &Codecs(&st.video_codecs))?;
        m.serialize_field("media_region", &st.media_region)?;
        m.serialize_field("audio_only", &st.audio_only)?;
        m.serialize_field("empty_room_timeout", &st.empty_room_timeout)?;
        m.serialize_field("unused_room_timeout", &st.unused_room_timeout)?;
        m.serialize_field("large_room", &st.large_room)?;
        m.serialize_field(
            "url",
            &Text(RoomUrl {
                base: self.base,
                room: r.sid,
                suffix: "",
            }),
        )?;
        m.serialize_field("links", &RoomLinks(self.base, r.sid))?;
        m.end()
    }
}

/// `video.v1.room.room_participant` (and its `Anonymize` variant, which has no links), serialized
/// straight from the record like [`RoomResource`].
#[derive(Debug, Clone, Copy)]
pub struct ParticipantResource<'a> {
    p: &'a Participant,
    base: &'a str,
    anonymized: bool,
}

/// `{base}/v1/Rooms/{room}/Participants/{sid}{suffix}`.
struct ParticipantUrl<'a> {
    base: &'a str,
    p: &'a Participant,
    suffix: &'static str,
}

impl std::fmt::Display for ParticipantUrl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}/v1/Rooms/{}/Participants/{}{}",
            self.base, self.p.room_sid, self.p.sid, self.suffix
        )
    }
}

/// A participant's `links`.
struct ParticipantLinks<'a>(&'a str, &'a Participant);

impl Serialize for ParticipantLinks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let url = |suffix| {
            Text(ParticipantUrl {
                base: self.0,
                p: self.1,
                suffix,
            })
        };
        let mut m = s.serialize_struct("ParticipantLinks", 4)?;
        m.serialize_field("published_tracks", &url("/PublishedTracks"))?;
        m.serialize_field("subscribed_tracks", &url("/SubscribedTracks"))?;
        m.serialize_field("subscribe_rules", &url("/SubscribeRules"))?;
        m.serialize_field("anonymize", &url("/Anonymize"))?;
        m.end()
    }
}

impl<'a> ParticipantResource<'a> {
    /// The resource of `p` under `base`.
    #[must_use]
    pub fn new(p: &'a Participant, base: &'a str) -> Self {
        Self {
            p,
            base,
            anonymized: false,
        }
    }

    /// The `Anonymize` answer: no links, and the URL of the anonymize action.
    #[must_use]
    pub fn anonymized(p: &'a Participant, base: &'a str) -> Self {
        Self {
            p,
            base,
            anonymized: true,
        }
    }
}

impl Serialize for ParticipantResource<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.p;
        let fields = if self.anonymized { 11 } else { 12 };
        let mut m = s.serialize_struct("ParticipantResource", fields)?;
        m.serialize_field("sid", &Text(p.sid))?;
        m.serialize_field("room_sid", &Text(p.room_sid))?;
        m.serialize_field("account_sid", &Text(p.account_sid))?;
        m.serialize_field("status", p.status.as_str())?;
        m.serialize_field("identity", &p.identity)?;
        m.serialize_field("date_created", &Date(p.date_created))?;
        m.serialize_field("date_updated", &Date(p.date_updated))?;
        m.serialize_field("start_time", &Date(p.start_time))?;
        m.serialize_field("end_time", &p.end_time.map(Date))?;
        m.serialize_field("duration", &p.duration)?;
        let url = |suffix| {
            Text(ParticipantUrl {
                base: self.base,
                p,
                suffix,
            })
        };
        if self.anonymized {
            m.serialize_field("url", &url("/Anonymize"))?;
        } else {
            m.serialize_field("url", &url(""))?;
            m.serialize_field("links", &ParticipantLinks(self.base, p))?;
        }
        m.end()
    }
}

impl ParticipantResource<'_> {
    /// Appends the resource's JSON to `out`: the same bytes as its `Serialize` (a test compares
    /// them), written directly (see `raw.rs`), for list pages.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use crate::raw;
        let p = self.p;
        let url = |out: &mut Vec<u8>, suffix: &str| {
            out.push(b'"');
            raw::contents(out, self.base);
            out.extend_from_slice(b"/v1/Rooms/");
            raw::sid(out, p.room_sid);
            out.extend_from_slice(b"/Participants/");
            raw::sid(out, p.sid);
            out.extend_from_slice(suffix.as_bytes());
            out.push(b'"');
        };
        out.extend_from_slice(b"{\"sid\":\"");
        raw::sid(out, p.sid);
        out.extend_from_slice(b"\",\"room_sid\":\"");
        raw::sid(out, p.room_sid);
        out.extend_from_slice(b"\",\"account_sid\":\"");
        raw::sid(out, p.account_sid);
        out.extend_from_slice(b"\",\"status\":");
        raw::string(out, p.status.as_str());
        out.extend_from_slice(b",\"identity\":");
        raw::string(out, &p.identity);
        out.extend_from_slice(b",\"date_created\":");
        raw::date(out, p.date_created);
        out.extend_from_slice(b",\"date_updated\":");
        raw::date(out, p.date_updated);
        out.extend_from_slice(b",\"start_time\":");
        raw::date(out, p.start_time);
        out.extend_from_slice(b",\"end_time\":");
        match p.end_time {
            Some(t) => raw::date(out, t),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"duration\":");
        raw::opt_int(out, p.duration);
        out.extend_from_slice(b",\"url\":");
        if self.anonymized {
            url(out, "/Anonymize");
        } else {
            url(out, "");
            out.extend_from_slice(b",\"links\":{\"published_tracks\":");
            url(out, "/PublishedTracks");
            out.extend_from_slice(b",\"subscribed_tracks\":");
            url(out, "/SubscribedTracks");
            out.extend_from_slice(b",\"subscribe_rules\":");
            url(out, "/SubscribeRules");
            out.extend_from_slice(b",\"anonymize\":");
            url(out, "/Anonymize");
            out.push(b'}');
        }
        out.push(b'}');
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

    /// The civil-date arithmetic agrees with chrono's calendar, leap days and centuries included.
    #[test]
    fn dates_agree_with_chrono() {
        let mut t = 0_i64;
        while t < 7_258_118_400_000 {
            let want = Timestamp::from_millis(t)
                .to_chrono()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            assert_eq!(date(Timestamp::from_millis(t)), want, "at {t} ms");
            // Steps of about 9.3 hours with a changing millisecond part, to 2200.
            t += 33_333_333;
        }
        for t in [951_782_400_000, 951_868_799_999, 4_107_542_400_000] {
            let want = Timestamp::from_millis(t)
                .to_chrono()
                .format("%Y-%m-%dT%H:%M:%SZ")
                .to_string();
            assert_eq!(date(Timestamp::from_millis(t)), want);
        }
    }

    /// The participant written directly is byte for byte its `Serialize` output, for every
    /// shape: ended or not, anonymized or not, identities and public URLs that need escaping.
    #[test]
    fn participants_written_directly_match_serde() {
        use vroom_domain::participant::{EndReason, ParticipantStatus};
        use vroom_domain::sid::{AccountSid, ParticipantSid, RoomSid};
        let t = Timestamp::from_millis(1_764_600_123_456);
        for (n, identity) in [
            "alice",
            "",
            "quote\" back\\slash",
            "tab\tnl\n\u{1}",
            "ünï ✓ 🎥",
        ]
        .into_iter()
        .enumerate()
        {
            for ended in [false, true] {
                let p = Participant {
                    sid: ParticipantSid::from_bytes([u8::try_from(n).unwrap_or(0); 16]),
                    room_sid: RoomSid::from_bytes([0xab; 16]),
                    account_sid: AccountSid::from_bytes([0x01; 16]),
                    identity: identity.to_owned(),
                    status: if ended {
                        ParticipantStatus::Disconnected
                    } else {
                        ParticipantStatus::Connected
                    },
                    date_created: t,
                    date_updated: t,
                    start_time: t,
                    end_time: ended.then_some(t),
                    duration: ended.then_some(-7 + 100_000 * i64::try_from(n).unwrap_or(0)),
                    end_reason: ended.then_some(EndReason::Left),
                };
                for base in ["http://127.0.0.1:8080", "https://v.example/\"x\\"] {
                    for r in [
                        ParticipantResource::new(&p, base),
                        ParticipantResource::anonymized(&p, base),
                    ] {
                        let mut out = Vec::new();
                        r.write_json(&mut out);
                        assert_eq!(
                            String::from_utf8(out).unwrap(),
                            serde_json::to_string(&r).unwrap()
                        );
                    }
                }
            }
        }
    }

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
