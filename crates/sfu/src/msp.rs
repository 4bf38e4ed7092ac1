//! The media signaling protocol (MSP): what twilio-video.js asks for in `connect` (its
//! `media_signaling` channels and `bandwidth_profile`), the messages it sends on those channels, and
//! the messages the SFU sends back. Each channel is a data channel the server opens, labelled with
//! the channel's name; every message is one JSON text.
//!
//! Only this module knows the JSON shapes; the rest of the SFU works with the types below.

use serde_json::{Value, json};
use vroom_domain::track::TrackPriority;

/// A media signaling channel the client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MspChannel {
    /// Dominant speaker (`dominantSpeaker: true`).
    ActiveSpeaker,
    /// Network quality levels (`networkQuality`).
    NetworkQuality,
    /// The subscriber's track priorities (`setPriority`).
    TrackPriority,
    /// Tracks the server switched off and on (any `bandwidthProfile`).
    TrackSwitchOff,
    /// The subscriber's render hints (`bandwidthProfile` with manual switch-off or content
    /// preferences).
    RenderHints,
    /// Which simulcast layers publishers should send (`preferredVideoCodecs: 'auto'`).
    PublisherHints,
}

impl MspChannel {
    /// Every channel vroom serves, in the order they are opened.
    pub const ALL: [Self; 6] = [
        Self::ActiveSpeaker,
        Self::NetworkQuality,
        Self::TrackPriority,
        Self::TrackSwitchOff,
        Self::RenderHints,
        Self::PublisherHints,
    ];

    /// The channel's name in `media_signaling`, also the label of its data channel.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::ActiveSpeaker => "active_speaker",
            Self::NetworkQuality => "network_quality",
            Self::TrackPriority => "track_priority",
            Self::TrackSwitchOff => "track_switch_off",
            Self::RenderHints => "render_hints",
            Self::PublisherHints => "publisher_hints",
        }
    }

    /// The channel of a data channel label.
    #[must_use]
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == label)
    }
}

/// How the client wants its video tracks switched off when they do not fit (`trackSwitchOffMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SwitchOffMode {
    /// Never: tracks stay on at their lowest layer.
    Disabled,
    /// Before congestion shows (vroom treats it like `detected`).
    #[default]
    Predicted,
    /// When the estimate says they do not fit.
    Detected,
}

/// Render dimensions (pixels) the client gives per priority in its bandwidth profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// The video part of the client's `bandwidthProfile`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BandwidthProfile {
    /// `grid`, `collaboration` or `presentation` (Twilio's default: `grid`).
    pub mode: String,
    /// The priority of the dominant speaker's video (`dominantSpeakerPriority`).
    pub dominant_speaker_priority: Option<TrackPriority>,
    /// Most bits per second for all video the client receives (`maxSubscriptionBitrate`).
    pub max_subscription_bitrate: Option<u64>,
    /// How tracks that do not fit are handled.
    pub switch_off: SwitchOffMode,
    /// Render dimensions per track priority (legacy `renderDimensions`).
    pub render_dimensions: Vec<(TrackPriority, Dimensions)>,
}

/// What a participant's client asked for in `connect`: its channels and its bandwidth profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MediaOptions {
    /// The channels asked for that vroom serves.
    pub channels: Vec<MspChannel>,
    /// The bandwidth profile, when the app set one.
    pub profile: Option<BandwidthProfile>,
    /// The client asked for media warnings about its recordings (`participant.media_warnings`
    /// holds `recordings`; set by the caller, which reads the participant state).
    pub recording_warnings: bool,
}

impl MediaOptions {
    /// Reads `connect`'s `media_signaling` and `bandwidth_profile` (either may be absent). Channels
    /// that are not asked for over a data channel, or that vroom does not serve (transcriptions),
    /// are left out.
    #[must_use]
    pub fn from_connect(
        media_signaling: Option<&Value>,
        bandwidth_profile: Option<&Value>,
    ) -> Self {
        let channels = MspChannel::ALL
            .into_iter()
            .filter(|c| {
                media_signaling
                    .and_then(|m| m.get(c.name()))
                    .and_then(|c| c.get("transports"))
                    .and_then(Value::as_array)
                    .is_some_and(|ts| {
                        ts.iter()
                            .any(|t| t.get("type").and_then(Value::as_str) == Some("data-channel"))
                    })
            })
            .collect();
        let profile = bandwidth_profile
            .and_then(|b| b.get("video"))
            .filter(|v| v.is_object())
            .map(profile_of);
        Self {
            channels,
            profile,
            recording_warnings: false,
        }
    }

    /// Whether the client asked for `channel`.
    #[must_use]
    pub fn wants(&self, channel: MspChannel) -> bool {
        self.channels.contains(&channel)
    }

    /// `connected`'s `media_signaling`: each channel with the label of the data channel the server
    /// opens for it.
    #[must_use]
    pub fn reply(&self) -> Value {
        let mut reply = serde_json::Map::new();
        for c in &self.channels {
            reply.insert(
                c.name().to_owned(),
                json!({ "transport": { "type": "data-channel", "label": c.name() } }),
            );
        }
        Value::Object(reply)
    }
}

fn priority_of(v: &Value) -> Option<TrackPriority> {
    match v.as_str()? {
        "low" => Some(TrackPriority::Low),
        "standard" => Some(TrackPriority::Standard),
        "high" => Some(TrackPriority::High),
        _ => None,
    }
}

fn dimensions_of(v: &Value) -> Option<Dimensions> {
    let n = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    Some(Dimensions {
        width: n("width")?,
        height: n("height")?,
    })
}

fn profile_of(video: &Value) -> BandwidthProfile {
    let render_dimensions = [
        TrackPriority::Low,
        TrackPriority::Standard,
        TrackPriority::High,
    ]
    .into_iter()
    .filter_map(|p| {
        video
            .get("render_dimensions")
            .and_then(|r| r.get(p.as_str()))
            .and_then(dimensions_of)
            .map(|d| (p, d))
    })
    .collect();
    BandwidthProfile {
        mode: video
            .get("mode")
            .and_then(Value::as_str)
            .unwrap_or("grid")
            .to_owned(),
        dominant_speaker_priority: video.get("active_speaker_priority").and_then(priority_of),
        max_subscription_bitrate: video
            .get("max_subscription_bandwidth")
            .and_then(Value::as_u64)
            .filter(|b| *b > 0),
        switch_off: match video.get("track_switch_off").and_then(Value::as_str) {
            Some("disabled") => SwitchOffMode::Disabled,
            Some("detected") => SwitchOffMode::Detected,
            _ => SwitchOffMode::Predicted,
        },
        render_dimensions,
    }
}

/// One render hint of a subscriber for one track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderHint {
    /// The track's SID.
    pub track: String,
    /// Whether the subscriber wants it at all (`switchOn()`/`switchOff()`, or visibility).
    pub enabled: Option<bool>,
    /// The size it is drawn at.
    pub dimensions: Option<Dimensions>,
}

/// The network figures a client reports (twilio-video.js's peer connection summary).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ClientNetwork {
    /// Fraction of received packets lost (0–1).
    pub fraction_lost: Option<f64>,
    /// Round-trip time of what it sends (seconds).
    pub rtt: Option<f64>,
    /// Jitter of what it receives (seconds).
    pub jitter: Option<f64>,
    /// Bits per second it receives.
    pub recv_bitrate: Option<f64>,
}

/// A message a client sent on a channel.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMsp {
    /// Network figures; the client waits for levels in reply before it sends again.
    NetworkQuality {
        /// The figures.
        network: ClientNetwork,
        /// Verbosity wanted for the local participant (0: none).
        local_level: u64,
        /// Verbosity wanted for the remote participants (0: none).
        remote_level: u64,
    },
    /// The subscriber's priority for a track.
    TrackPriority {
        /// The track's SID.
        track: String,
        /// The priority.
        priority: TrackPriority,
    },
    /// Render hints.
    RenderHints {
        /// The message id, echoed in the reply.
        id: u64,
        /// The hints.
        hints: Vec<RenderHint>,
    },
    /// A publisher's answer to our publisher hints (nothing to do), or a replaced track whose
    /// encodings the client reset (`client_reset`): hints are to be sent again.
    ClientReset {
        /// The track's SID.
        track: String,
    },
    /// Anything else (`ready`, hint results).
    Other,
}

impl ClientMsp {
    /// Reads one message; `None` when it is not JSON.
    #[must_use]
    pub fn parse(data: &[u8]) -> Option<Self> {
        let v: Value = serde_json::from_slice(data).ok()?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(match v.get("type").and_then(Value::as_str) {
            Some("network_quality") => {
                let f = |path: &[&str]| {
                    path.iter()
                        .try_fold(&v, |v, k| v.get(*k))
                        .and_then(Value::as_f64)
                };
                Self::NetworkQuality {
                    network: ClientNetwork {
                        fraction_lost: f(&["recv", "fractionLost"]),
                        rtt: f(&["send", "rtt"]),
                        jitter: f(&["recv", "jitter"]),
                        recv_bitrate: f(&["recv", "bitrate"]),
                    },
                    local_level: v.get("reportLevel").and_then(Value::as_u64).unwrap_or(1),
                    remote_level: v
                        .get("remoteReportLevel")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                }
            }
            Some("track_priority") => {
                match (s(&v, "track"), v.get("subscribe").and_then(priority_of)) {
                    (Some(track), Some(priority)) => Self::TrackPriority { track, priority },
                    _ => Self::Other,
                }
            }
            Some("render_hints") => {
                let sub = v.get("subscriber");
                let hints = sub
                    .and_then(|s| s.get("hints"))
                    .and_then(Value::as_array)
                    .map(|hs| {
                        hs.iter()
                            .filter_map(|h| {
                                Some(RenderHint {
                                    track: s(h, "track")?,
                                    enabled: h.get("enabled").and_then(Value::as_bool),
                                    dimensions: h.get("render_dimensions").and_then(dimensions_of),
                                })
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Self::RenderHints {
                    id: sub
                        .and_then(|s| s.get("id"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                    hints,
                }
            }
            Some("client_reset") => match s(&v, "track") {
                Some(track) => Self::ClientReset { track },
                None => Self::Other,
            },
            _ => Self::Other,
        })
    }
}

/// `active_speaker`: the room's dominant speaker.
#[must_use]
pub fn active_speaker(participant: &str) -> String {
    json!({ "type": "active_speaker", "participant": participant }).to_string()
}

/// `network_quality`: the local level and, when asked for, the remote participants' levels.
#[must_use]
pub fn network_quality(local: u8, remotes: &[(String, u8)]) -> String {
    let remotes: Vec<Value> = remotes
        .iter()
        .map(|(sid, level)| json!({ "sid": sid, "level": level }))
        .collect();
    json!({ "type": "network_quality", "local": local, "remotes": remotes }).to_string()
}

/// `track_switch_off`: tracks switched off and on since the last message.
#[must_use]
pub fn track_switch_off(off: &[String], on: &[String]) -> String {
    json!({ "type": "track_switch_off", "off": off, "on": on }).to_string()
}

/// The reply to render hints: each hinted track accepted.
#[must_use]
pub fn render_hints_reply(id: u64, tracks: &[String]) -> String {
    let hints: Vec<Value> = tracks
        .iter()
        .map(|t| json!({ "track": t, "result": "OK" }))
        .collect();
    json!({ "type": "render_hints", "subscriber": { "id": id, "hints": hints } }).to_string()
}

/// `publisher_hints`: which layers of a track its publisher should send (layer 0 is the lowest).
#[must_use]
pub fn publisher_hints(id: u64, track: &str, enabled: &[bool]) -> String {
    let encodings: Vec<Value> = enabled
        .iter()
        .enumerate()
        .map(|(i, e)| json!({ "enabled": e, "layer_index": i }))
        .collect();
    json!({
        "type": "publisher_hints",
        "publisher": { "id": id, "hints": [{ "track": track, "encodings": encodings }] }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_keep_the_served_channels_and_the_profile() {
        let ms = json!({
            "active_speaker": { "transports": [{ "type": "data-channel" }] },
            "network_quality": { "transports": [{ "type": "data-channel" }] },
            "extension_transcriptions": { "transports": [{ "type": "data-channel" }] },
            "render_hints": { "transports": [{ "type": "websocket" }] },
        });
        let bp = json!({ "video": {
            "mode": "collaboration", "active_speaker_priority": "high",
            "max_subscription_bandwidth": 300000, "track_switch_off": "detected",
            "render_dimensions": { "low": { "width": 160, "height": 90 } }
        }});
        let o = MediaOptions::from_connect(Some(&ms), Some(&bp));
        assert_eq!(
            o.channels,
            vec![MspChannel::ActiveSpeaker, MspChannel::NetworkQuality]
        );
        let p = o.profile.clone().unwrap();
        assert_eq!(p.mode, "collaboration");
        assert_eq!(p.dominant_speaker_priority, Some(TrackPriority::High));
        assert_eq!(p.max_subscription_bitrate, Some(300_000));
        assert_eq!(p.switch_off, SwitchOffMode::Detected);
        assert_eq!(p.render_dimensions.len(), 1);
        assert_eq!(
            o.reply()["active_speaker"]["transport"]["label"],
            "active_speaker"
        );
        assert!(o.reply().get("extension_transcriptions").is_none());
        assert_eq!(
            MediaOptions::from_connect(None, None),
            MediaOptions::default()
        );
    }

    #[test]
    fn client_messages_parse() {
        let nq = br#"{"type":"network_quality","send":{"bitrate":1,"rtt":0.2},"recv":{"bitrate":9,"fractionLost":0.1,"jitter":0.01},"reportLevel":1,"remoteReportLevel":2}"#;
        match ClientMsp::parse(nq) {
            Some(ClientMsp::NetworkQuality {
                network,
                local_level,
                remote_level,
            }) => {
                assert_eq!(network.fraction_lost, Some(0.1));
                assert_eq!(network.rtt, Some(0.2));
                assert_eq!((local_level, remote_level), (1, 2));
            }
            other => panic!("{other:?}"),
        }
        let rh = br#"{"type":"render_hints","subscriber":{"id":7,"hints":[{"track":"MT1","enabled":false},{"track":"MT2","render_dimensions":{"width":320,"height":180}}]}}"#;
        match ClientMsp::parse(rh) {
            Some(ClientMsp::RenderHints { id, hints }) => {
                assert_eq!(id, 7);
                assert_eq!(hints[0].enabled, Some(false));
                assert_eq!(hints[1].dimensions.map(|d| d.height), Some(180));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            ClientMsp::parse(br#"{"type":"track_priority","track":"MT1","subscribe":"high"}"#),
            Some(ClientMsp::TrackPriority {
                track: "MT1".into(),
                priority: TrackPriority::High
            })
        );
        assert_eq!(
            ClientMsp::parse(br#"{"type":"ready"}"#),
            Some(ClientMsp::Other)
        );
        assert_eq!(ClientMsp::parse(b"not json"), None);
    }
}
