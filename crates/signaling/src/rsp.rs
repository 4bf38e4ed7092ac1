//! Room signaling protocol v2: the JSON messages inside TCMP `msg` bodies.
//!
//! Client messages are parsed leniently (unknown fields are ignored, as new client versions add
//! fields); server messages are built from domain views with exactly the fields the client reads.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vroom_domain::live::{ParticipantView, Presence};
use vroom_domain::track::{PublishedTrack, TrackInfo, TrackKind, TrackPriority};

mod connected;
#[cfg(test)]
mod golden_tests;
pub use connected::Connected;

/// The RSP version.
pub const RSP_VERSION: u64 = 2;

/// A message from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// Join a room.
    Connect(Connect),
    /// Resume a session on a new connection.
    Sync(Sync),
    /// Something changed on the client.
    Update(Update),
    /// The client leaves.
    Disconnect,
    /// The client asks for ICE servers before connecting.
    Ice(Ice),
    /// A message type this server does not know; ignored for forward compatibility.
    Unknown(String),
}

/// Why a client message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid '{kind}' message: {detail}")]
pub struct MessageError {
    /// The message type.
    pub kind: String,
    /// What is wrong.
    pub detail: String,
}

/// The client's own participant state: its revision and its tracks.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LocalParticipant {
    /// The client's revision of this state.
    #[serde(default)]
    pub revision: u64,
    /// The tracks it publishes.
    #[serde(default)]
    pub tracks: Vec<LocalTrack>,
    /// The media warnings it asks for (`connect` only; `recordings` for the app's
    /// `notifyWarnings: ['recording-media-lost']`).
    #[serde(default)]
    pub media_warnings: Vec<String>,
}

impl LocalParticipant {
    /// Whether the client asked to be warned when a recording of its tracks gets no media.
    #[must_use]
    pub fn wants_recording_warnings(&self) -> bool {
        self.media_warnings.iter().any(|w| w == "recordings")
    }
}

/// A track the client publishes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LocalTrack {
    /// The client's id (MediaStreamTrack id / DataChannel label).
    pub id: String,
    /// `audio`, `video` or `data`.
    pub kind: String,
    /// The track name.
    #[serde(default)]
    pub name: Option<String>,
    /// Enabled.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// `low`, `standard` or `high`.
    #[serde(default)]
    pub priority: Option<String>,
}

fn yes() -> bool {
    true
}

impl LocalTrack {
    /// The domain description, or `None` if the kind is unknown.
    #[must_use]
    pub fn to_info(&self) -> Option<TrackInfo> {
        Some(TrackInfo {
            client_id: self.id.clone(),
            name: self.name.clone().unwrap_or_else(|| self.id.clone()),
            kind: TrackKind::parse(&self.kind)?,
            enabled: self.enabled,
            priority: self
                .priority
                .as_deref()
                .map_or(TrackPriority::Standard, TrackPriority::parse),
        })
    }
}

/// `connect`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Connect {
    /// The room name (`null` when the app gave none).
    #[serde(default)]
    pub name: Option<String>,
    /// The access token.
    pub token: String,
    /// The client's participant state.
    #[serde(default)]
    pub participant: Option<LocalParticipant>,
    /// Peer connection states (offers).
    #[serde(default)]
    pub peer_connections: Vec<Value>,
    /// Initial subscribe rules.
    #[serde(default)]
    pub subscribe: Option<Value>,
    /// The media signaling channels the client asks for.
    #[serde(default)]
    pub media_signaling: Option<Value>,
    /// The app's bandwidth profile.
    #[serde(default)]
    pub bandwidth_profile: Option<Value>,
}

/// `sync`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sync {
    /// The session the client had.
    pub session: String,
    /// The access token.
    pub token: String,
    /// The room name.
    #[serde(default)]
    pub name: Option<String>,
    /// The client's participant state.
    #[serde(default)]
    pub participant: Option<LocalParticipant>,
    /// Peer connection states.
    #[serde(default)]
    pub peer_connections: Vec<Value>,
}

/// `update`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Update {
    /// The client's participant state, if it changed.
    #[serde(default)]
    pub participant: Option<LocalParticipant>,
    /// Peer connection descriptions and ICE candidates.
    #[serde(default)]
    pub peer_connections: Vec<Value>,
    /// Subscribe rules, if they changed.
    #[serde(default)]
    pub subscribe: Option<Value>,
}

/// `ice`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Ice {
    /// The access token.
    #[serde(default)]
    pub token: Option<String>,
}

/// Reads a client message body (a JSON object's text).
///
/// # Errors
/// `MessageError` when a known message type has the wrong shape.
pub fn parse(body: &str) -> Result<ClientMessage, MessageError> {
    /// Only the type, first; the message is then read straight into its own type.
    #[derive(Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", default, borrow)]
        kind: Option<&'a serde_json::value::RawValue>,
    }
    let kind = serde_json::from_str::<Kind<'_>>(body)
        .map(|k| crate::tcmp::string_of(k.kind))
        .unwrap_or_default();
    let err = |e: serde_json::Error| MessageError {
        kind: kind.clone(),
        detail: e.to_string(),
    };
    Ok(match kind.as_str() {
        "connect" => ClientMessage::Connect(serde_json::from_str(body).map_err(err)?),
        "sync" => ClientMessage::Sync(serde_json::from_str(body).map_err(err)?),
        "update" => ClientMessage::Update(serde_json::from_str(body).map_err(err)?),
        "ice" => ClientMessage::Ice(serde_json::from_str(body).map_err(err)?),
        "disconnect" => ClientMessage::Disconnect,
        other => ClientMessage::Unknown(other.chars().take(32).collect()),
    })
}

/// The rules of a client's `subscribe` object (`{"rules": [...], "revision": n}`), if they are
/// well-formed; the domain checks them further.
#[must_use]
pub fn subscribe_rules(subscribe: &Value) -> Option<Vec<vroom_domain::rules::SubscribeRule>> {
    use vroom_domain::rules::{RuleType, TrackRule};
    let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_owned);
    subscribe
        .get("rules")?
        .as_array()?
        .iter()
        .map(|r| {
            let rule_type = match r.get("type").and_then(Value::as_str)? {
                "include" => RuleType::Include,
                "exclude" => RuleType::Exclude,
                _ => return None,
            };
            let kind = match text(r, "kind") {
                None => None,
                Some(k) => Some(TrackKind::parse(&k)?),
            };
            Some(TrackRule {
                rule_type,
                all: r.get("all").and_then(Value::as_bool),
                kind,
                publisher: text(r, "publisher"),
                track: text(r, "track"),
                priority: text(r, "priority"),
            })
        })
        .collect()
}

/// A track in a participant state sent to clients.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteTrack {
    /// `MT…`
    #[serde(serialize_with = "as_text")]
    pub sid: vroom_domain::sid::TrackSid,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: &'static str,
    /// Enabled.
    pub enabled: bool,
    /// Priority.
    pub priority: &'static str,
}

impl From<&PublishedTrack> for RemoteTrack {
    fn from(t: &PublishedTrack) -> Self {
        Self {
            sid: t.sid,
            name: t.info.name.clone(),
            kind: t.info.kind.as_str(),
            enabled: t.info.enabled,
            priority: t.info.priority.as_str(),
        }
    }
}

/// A SID written as its text without making a `String` of it first (a `connected` in a large
/// room holds hundreds).
fn as_text<S: serde::Serializer, K: vroom_domain::sid::SidKind>(
    sid: &vroom_domain::sid::Sid<K>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(sid)
}

/// A participant state sent to clients.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteParticipant {
    /// `PA…`
    #[serde(serialize_with = "as_text")]
    pub sid: vroom_domain::sid::ParticipantSid,
    /// Identity.
    pub identity: String,
    /// Revision (strictly increasing per participant).
    pub revision: u64,
    /// `connected`, `reconnecting` or `disconnected`.
    pub state: &'static str,
    /// Tracks (always present; the client iterates it unguarded).
    pub tracks: Vec<RemoteTrack>,
}

impl From<&ParticipantView> for RemoteParticipant {
    fn from(v: &ParticipantView) -> Self {
        Self {
            sid: v.sid,
            identity: v.identity.clone(),
            revision: v.revision,
            state: match v.presence {
                Presence::Connected => "connected",
                Presence::Reconnecting => "reconnecting",
                Presence::Disconnected => "disconnected",
            },
            tracks: v.tracks.iter().map(RemoteTrack::from).collect(),
        }
    }
}

/// `view` as clients receive it, written by the first session that sends it and kept in the view
/// ([`ParticipantView::wire`]): a change in a room goes to every other member, and a member's view
/// to every `connected` while it stays the same, so each is written once, not once per recipient.
#[must_use]
pub fn participant_json(view: &ParticipantView) -> &str {
    view.wire.get_or_init(|| {
        // Cannot fail: strings, numbers and lists only.
        serde_json::to_string(&RemoteParticipant::from(view))
            .unwrap_or_default()
            .into_boxed_str()
    })
}

/// Writes `views` as a JSON list of participant states into `out`.
fn write_participants(out: &mut String, views: &[Arc<ParticipantView>]) {
    out.push('[');
    for (i, view) in views.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(participant_json(view));
    }
    out.push(']');
}

/// The `update` telling a client of `views` (in their order), as JSON text: what
/// `ServerUpdate { participants, .. }` writes, with each participant written once for all.
#[must_use]
pub fn participants_update(views: &[Arc<ParticipantView>]) -> String {
    let mut out = String::with_capacity(64 + views.len() * 160);
    out.push_str(r#"{"type":"update","version":"#);
    out.push_str(&RSP_VERSION.to_string());
    out.push_str(r#","participants":"#);
    write_participants(&mut out, views);
    out.push('}');
    out
}

/// An error object inside `published` entries.
#[derive(Debug, Clone, Serialize)]
pub struct TrackError {
    /// Twilio code.
    pub code: u32,
    /// Message.
    pub message: String,
}

/// One entry of `published`.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedEntry {
    /// The client's track id.
    pub id: String,
    /// The SID, when published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// `ready` or `failed`.
    pub state: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<TrackError>,
}

/// `published`: acknowledgements of the client's own tracks.
#[derive(Debug, Clone, Serialize)]
pub struct Published {
    /// Strictly increasing per participant.
    pub revision: u64,
    /// Entries.
    pub tracks: Vec<PublishedEntry>,
}

/// One entry of `subscribed`.
#[derive(Debug, Clone, Serialize)]
pub struct SubscribedEntry {
    /// The track SID.
    pub sid: String,
    /// The msid track id (or DataChannel label) it arrives under.
    pub id: String,
}

/// `subscribed`: the full list of the client's subscriptions.
#[derive(Debug, Clone, Serialize)]
pub struct Subscribed {
    /// Strictly increasing per participant.
    pub revision: u64,
    /// Entries.
    pub tracks: Vec<SubscribedEntry>,
}

/// `recording`.
#[derive(Debug, Clone, Serialize)]
pub struct Recording {
    /// Revision.
    pub revision: u64,
    /// Whether any track of the room is recorded.
    pub is_recording: bool,
}

/// `warning`: the media states of the client's recorded tracks that changed
/// (`{"type":"warning","states":{"revision":n,"tracks":{"MT…":{"recordings":"NO_MEDIA"}}}}`).
/// twilio-video.js applies one only if its revision is above the last it applied, and a state only
/// if it differs from the track's last (`OK` → `warningsCleared`, `NO_MEDIA` → `warning`
/// `recording-media-lost`).
#[derive(Debug, Clone, Serialize)]
pub struct Warning {
    /// Always `warning`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The states.
    pub states: WarningStates,
}

/// `states` of a `warning`.
#[derive(Debug, Clone, Serialize)]
pub struct WarningStates {
    /// Strictly increasing per participant.
    pub revision: u64,
    /// Track SID → its states.
    pub tracks: std::collections::BTreeMap<String, TrackMediaStates>,
}

/// The media states of one track.
#[derive(Debug, Clone, Serialize)]
pub struct TrackMediaStates {
    /// `OK` or `NO_MEDIA`.
    pub recordings: &'static str,
}

impl Warning {
    /// A `warning` of revision `revision` with `tracks`: (track SID, `OK` or `NO_MEDIA`).
    #[must_use]
    pub fn new(revision: u64, tracks: &[(String, &'static str)]) -> Self {
        Self {
            kind: "warning",
            states: WarningStates {
                revision,
                tracks: tracks
                    .iter()
                    .map(|(sid, state)| (sid.clone(), TrackMediaStates { recordings: state }))
                    .collect(),
            },
        }
    }
}

/// The local participant in `connected`.
#[derive(Debug, Clone, Serialize)]
pub struct LocalParticipantAck {
    /// `PA…`
    pub sid: String,
    /// Identity.
    pub identity: String,
}

/// `options` in `connected`.
#[derive(Debug, Clone, Serialize)]
pub struct SessionOptions {
    /// Seconds the client may spend reconnecting (`sync`) before giving up.
    pub session_timeout: u64,
    /// Shown as `localParticipant.signalingRegion`.
    pub signaling_region: &'static str,
    /// Shown as `room.mediaRegion`.
    pub media_region: String,
}

/// `update` or `synced` from the server: any subset of the fields.
#[derive(Debug, Clone, Serialize)]
pub struct ServerUpdate {
    /// `update` or `synced`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// RSP version.
    pub version: u64,
    /// Session key (on `synced`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Participant states (authoritative on `synced`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participants: Option<Vec<RemoteParticipant>>,
    /// Peer connection descriptions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_connections: Option<Vec<Value>>,
    /// Acknowledged tracks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Published>,
    /// Subscriptions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscribed: Option<Subscribed>,
    /// Recording state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<Recording>,
}

impl ServerUpdate {
    /// An empty `update`.
    #[must_use]
    pub fn update() -> Self {
        Self {
            kind: "update",
            version: RSP_VERSION,
            session: None,
            participants: None,
            peer_connections: None,
            published: None,
            subscribed: None,
            recording: None,
        }
    }
}

/// `error`: ends the client's session with a Twilio error.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorMessage {
    /// Always `error`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Twilio code.
    pub code: u32,
    /// Message.
    pub message: String,
}

impl ErrorMessage {
    /// An error message.
    #[must_use]
    pub fn new(code: u32, message: impl Into<String>) -> Self {
        Self {
            kind: "error",
            code,
            message: message.into(),
        }
    }
}

/// `disconnected`: the server ended the session; `status: completed` means the room ended.
#[derive(Debug, Clone, Serialize)]
pub struct Disconnected {
    /// Always `disconnected`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `completed` when the room ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

/// `iced`: ICE servers for the client.
#[derive(Debug, Clone, Serialize)]
pub struct Iced {
    /// Always `iced`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// RTCIceServer objects.
    pub ice_servers: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(sid: &str, identity: &str, revision: u64) -> Arc<ParticipantView> {
        Arc::new(ParticipantView {
            sid: sid.parse().unwrap(),
            identity: identity.into(),
            revision,
            presence: Presence::Connected,
            tracks: vec![PublishedTrack {
                sid: "MT00000000000000000000000000000001".parse().unwrap(),
                info: TrackInfo {
                    client_id: "c1".into(),
                    kind: TrackKind::Audio,
                    name: "mic".into(),
                    enabled: true,
                    priority: TrackPriority::Standard,
                },
                date_created: vroom_domain::time::Timestamp::from_millis(0),
                date_updated: vroom_domain::time::Timestamp::from_millis(0),
            }],
            wire: vroom_domain::live::Rendered::default(),
        })
    }

    #[test]
    fn a_remote_participant_is_written_with_its_sids_as_text() {
        let view = view("PA0123456789abcdef0123456789abcdef", "ann \"a\"", 3);
        let expected = r#"{"sid":"PA0123456789abcdef0123456789abcdef","identity":"ann \"a\"","revision":3,"state":"connected","tracks":[{"sid":"MT00000000000000000000000000000001","name":"mic","kind":"audio","enabled":true,"priority":"standard"}]}"#;
        assert_eq!(
            serde_json::to_string(&RemoteParticipant::from(&*view)).unwrap(),
            expected
        );
        assert_eq!(participant_json(&view), expected);
        let kept = participant_json(&view);
        assert!(
            std::ptr::eq(kept, participant_json(&view)),
            "written once, then the same bytes"
        );
    }

    /// The participants `update` written from the views' kept text is what serde writes for the
    /// same message, byte for byte, envelope included.
    #[test]
    fn a_participants_update_is_written_as_serde_would() {
        let views = [
            view(
                "PA0123456789abcdef0123456789abcdef",
                "ann \"a\" \u{e9}\n",
                3,
            ),
            view("PA00000000000000000000000000000002", "bob", 1),
        ];
        let by_serde = crate::tcmp::msg(&ServerUpdate {
            participants: Some(
                views
                    .iter()
                    .map(|v| RemoteParticipant::from(&**v))
                    .collect(),
            ),
            ..ServerUpdate::update()
        });
        assert_eq!(
            crate::tcmp::msg_of_json(&participants_update(&views)),
            by_serde
        );
        assert_eq!(crate::tcmp::msg_of_json(&participants_update(&[])), {
            crate::tcmp::msg(&ServerUpdate {
                participants: Some(Vec::new()),
                ..ServerUpdate::update()
            })
        });
    }

    /// A `connected` of room `RM…01` named `name`, for participant `sid` / `identity`, listing
    /// `roster`; every other part as a room without tracks or recording sends it.
    pub(super) fn connected(
        name: &str,
        sid: &str,
        identity: &str,
        roster: Vec<Arc<ParticipantView>>,
    ) -> Connected {
        Connected {
            kind: "connected",
            version: RSP_VERSION,
            session: "key".into(),
            sid: "RM00000000000000000000000000000001".into(),
            name: name.into(),
            participant: LocalParticipantAck {
                sid: sid.into(),
                identity: identity.into(),
            },
            participants: roster,
            peer_connections: vec![serde_json::json!({"id": "pc"})],
            published: Published {
                revision: 1,
                tracks: Vec::new(),
            },
            subscribed: Subscribed {
                revision: 1,
                tracks: Vec::new(),
            },
            recording: Recording {
                revision: 0,
                is_recording: false,
            },
            media_signaling: serde_json::json!({}),
            options: SessionOptions {
                session_timeout: 30,
                signaling_region: "gll",
                media_region: "gll".into(),
            },
        }
    }

    /// `connected` holds every field serde writes, and the participants as serde writes them.
    #[test]
    fn connected_is_written_with_its_participants() {
        let roster = vec![
            view("PA0123456789abcdef0123456789abcdef", "ann", 3),
            view("PA00000000000000000000000000000002", "b\"ob", 1),
        ];
        let connected = connected(
            "room \"1\"",
            "PA00000000000000000000000000000003",
            "me",
            roster.clone(),
        );
        let expected = serde_json::to_value(&connected).unwrap();
        assert_eq!(
            expected["participants"].as_array().map(Vec::len),
            Some(roster.len()),
            "serialising the message writes its participants"
        );
        let written: Value = serde_json::from_str(&connected.to_json()).unwrap();
        assert_eq!(
            written, expected,
            "the kept participants make the same message"
        );
        assert_eq!(
            connected.to_msg(),
            crate::tcmp::msg_of_json(&connected.to_json()),
            "the message as sent is the message in its envelope"
        );
    }

    #[test]
    fn client_messages() {
        let body = serde_json::json!({
            "type": "update", "session": "s", "version": 2,
            "participant": {"revision": 3, "tracks": [{"id": "t1", "kind": "audio", "name": "mic", "enabled": true, "priority": "high"}]},
            "peer_connections": [{"id": "pc", "ice": {"candidates": []}}]
        });
        let ClientMessage::Update(u) = parse(&body.to_string()).unwrap() else {
            panic!("update")
        };
        let t = u.participant.unwrap().tracks[0].to_info().unwrap();
        assert_eq!(
            (t.kind, t.priority),
            (TrackKind::Audio, TrackPriority::High)
        );
        assert_eq!(
            parse(&serde_json::json!({"type": "disconnect"}).to_string()).unwrap(),
            ClientMessage::Disconnect
        );
        assert_eq!(
            parse(&serde_json::json!({"type": "future"}).to_string()).unwrap(),
            ClientMessage::Unknown("future".into())
        );
        let bad =
            parse(&serde_json::json!({"type": "connect", "token": 5}).to_string()).unwrap_err();
        assert_eq!(bad.kind, "connect");
        let bad = parse(
            &serde_json::json!({"type": "update", "participant": {"tracks": "no"}}).to_string(),
        )
        .unwrap_err();
        assert_eq!(bad.kind, "update");
    }

    #[test]
    fn media_warnings_asked_and_told() {
        let connect = |p: Value| {
            let body = serde_json::json!({"type": "connect", "token": "t", "participant": p});
            let ClientMessage::Connect(c) = parse(&body.to_string()).unwrap() else {
                panic!("connect")
            };
            c.participant.unwrap().wants_recording_warnings()
        };
        assert!(connect(
            serde_json::json!({"revision": 1, "tracks": [], "media_warnings": ["recordings"]})
        ));
        assert!(!connect(serde_json::json!({"revision": 1, "tracks": []})));
        assert!(!connect(
            serde_json::json!({"revision": 1, "media_warnings": []})
        ));
        let w = Warning::new(3, &[("MTb".into(), "OK"), ("MTa".into(), "NO_MEDIA")]);
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"type":"warning","states":{"revision":3,"tracks":{"MTa":{"recordings":"NO_MEDIA"},"MTb":{"recordings":"OK"}}}}"#
        );
    }
}
