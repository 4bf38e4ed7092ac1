//! `connected`, the answer to `connect`: the one message that carries every other participant of
//! the room, so it is written with each participant's JSON as kept for all the room's sessions.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use vroom_domain::live::ParticipantView;

use super::{
    LocalParticipantAck, Published, Recording, RemoteParticipant, SessionOptions, Subscribed,
    write_participants,
};

/// `connected`, the answer to `connect`. [`Connected::to_json`] writes it with each participant
/// as kept for all the room's sessions; serialising it (serde) writes the same message, each
/// participant made afresh.
#[derive(Debug, Clone)]
pub struct Connected {
    /// Always `connected`.
    pub kind: &'static str,
    /// RSP version.
    pub version: u64,
    /// Opaque session key, echoed by the client and used for `sync`.
    pub session: String,
    /// Room SID.
    pub sid: String,
    /// Room name.
    pub name: String,
    /// The client's own participant.
    pub participant: LocalParticipantAck,
    /// Everyone else: written last, each as [`super::participant_json`] keeps it (`Connected::to_json`).
    pub participants: Vec<Arc<ParticipantView>>,
    /// Peer connection answers.
    pub peer_connections: Vec<Value>,
    /// Acknowledged tracks.
    pub published: Published,
    /// Subscriptions.
    pub subscribed: Subscribed,
    /// Recording state.
    pub recording: Recording,
    /// Media signaling channels (none yet).
    pub media_signaling: Value,
    /// Session options (required by the client).
    pub options: SessionOptions,
}

impl Connected {
    /// The message as JSON text. `participants` comes last (clients read the object, not the
    /// order of its keys), each participant as written once for all the room's sessions.
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    /// The message in its TCMP `msg` envelope, as sent: written once, into a string of its
    /// final size (in a room of hundreds it is a hundred KiB and more, and each copy or regrowth
    /// of it showed in the join's profile).
    #[must_use]
    pub fn to_msg(&self) -> String {
        let participants: usize = self
            .participants
            .iter()
            .map(|v| super::participant_json(v).len() + 1)
            .sum();
        crate::tcmp::msg_written(1024 + participants, |out| self.write_json(out))
    }

    fn write_json(&self, out: &mut String) {
        // Cannot fail: strings, numbers, lists and JSON values only.
        let head =
            serde_json::to_string(&WithoutParticipants(self)).unwrap_or_else(|_| "{}".to_owned());
        out.push_str(&head[..head.len() - 1]);
        if head.len() > 2 {
            out.push(',');
        }
        out.push_str(r#""participants":"#);
        write_participants(out, &self.participants);
        out.push('}');
    }

    /// Every field but `participants`, as serde writes them.
    fn write_fields<M: serde::ser::SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        map.serialize_entry("type", self.kind)?;
        map.serialize_entry("version", &self.version)?;
        map.serialize_entry("session", &self.session)?;
        map.serialize_entry("sid", &self.sid)?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("participant", &self.participant)?;
        map.serialize_entry("peer_connections", &self.peer_connections)?;
        map.serialize_entry("published", &self.published)?;
        map.serialize_entry("subscribed", &self.subscribed)?;
        map.serialize_entry("recording", &self.recording)?;
        map.serialize_entry("media_signaling", &self.media_signaling)?;
        map.serialize_entry("options", &self.options)
    }
}

impl Serialize for Connected {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        self.write_fields(&mut map)?;
        let participants: Vec<RemoteParticipant> = self
            .participants
            .iter()
            .map(|v| RemoteParticipant::from(&**v))
            .collect();
        map.serialize_entry("participants", &participants)?;
        map.end()
    }
}

/// `connected` without its participants, which [`Connected::to_json`] writes as kept.
struct WithoutParticipants<'a>(&'a Connected);

impl Serialize for WithoutParticipants<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        self.0.write_fields(&mut map)?;
        map.end()
    }
}
