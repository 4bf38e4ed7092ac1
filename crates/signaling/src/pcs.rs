//! Peer connection messages: the `peer_connections` entries of RSP, between the client and the media
//! server. The client offers first and answers the server's offers; every entry names the client's
//! peer connection id and a description revision shared by both sides.

use serde_json::{Value, json};
use vroom_domain::room::Room;
use vroom_domain::sid::{ParticipantSid, TrackSid};
use vroom_sfu::{Media, MediaError, PcState};

use crate::rsp::SubscribedEntry;

/// One `peer_connections` entry from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PcMessage {
    /// An offer to answer.
    Offer {
        pc: String,
        revision: u64,
        sdp: String,
    },
    /// The answer to a server offer.
    Answer {
        pc: String,
        revision: u64,
        sdp: String,
    },
    /// The client closed the connection.
    Close { pc: String },
    /// Trickled ICE candidates (cumulative per ufrag).
    Candidates { pc: String, candidates: Vec<String> },
}

/// Reads the entries the server acts on; others (rollback, pranswer, malformed) are skipped.
pub(crate) fn parse(entries: &[Value]) -> Vec<PcMessage> {
    let mut out = Vec::new();
    for e in entries {
        let Some(pc) = e.get("id").and_then(Value::as_str).map(str::to_owned) else {
            continue;
        };
        if let Some(d) = e.get("description") {
            let kind = d.get("type").and_then(Value::as_str).unwrap_or_default();
            let revision = d.get("revision").and_then(Value::as_u64).unwrap_or(0);
            let sdp = d.get("sdp").and_then(Value::as_str).map(str::to_owned);
            match (kind, sdp) {
                ("offer", Some(sdp)) => out.push(PcMessage::Offer {
                    pc: pc.clone(),
                    revision,
                    sdp,
                }),
                ("answer", Some(sdp)) => out.push(PcMessage::Answer {
                    pc: pc.clone(),
                    revision,
                    sdp,
                }),
                ("close", _) => out.push(PcMessage::Close { pc: pc.clone() }),
                _ => {}
            }
        }
        if let Some(list) = e
            .get("ice")
            .and_then(|i| i.get("candidates"))
            .and_then(Value::as_array)
        {
            let candidates: Vec<String> = list
                .iter()
                .filter_map(|c| c.get("candidate").and_then(Value::as_str))
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect();
            if !candidates.is_empty() {
                out.push(PcMessage::Candidates { pc, candidates });
            }
        }
    }
    out
}

/// A description entry for the client.
pub(crate) fn description(pc: &str, kind: &str, revision: u64, sdp: &str) -> Value {
    json!({"id": pc, "description": {"type": kind, "revision": revision, "sdp": sdp}})
}

/// Hands the client's messages to the media server; returns the answers to send back.
///
/// # Errors
/// When an offer cannot be applied.
pub(crate) async fn apply(
    media: &Media,
    participant: ParticipantSid,
    room: &Room,
    messages: Vec<PcMessage>,
) -> Result<Vec<Value>, MediaError> {
    let mut answers = Vec::new();
    for m in messages {
        match m {
            PcMessage::Offer { pc, revision, sdp } => {
                let offer = vroom_sfu::Offer {
                    participant,
                    room: room.sid,
                    codecs: room.settings.video_codecs.clone(),
                    pc: pc.clone(),
                    revision,
                    sdp,
                };
                if let Some(answer) = media.offer(offer).await? {
                    answers.push(description(&pc, "answer", revision, &answer));
                }
            }
            PcMessage::Answer { pc, revision, sdp } => media.answer(participant, pc, revision, sdp),
            PcMessage::Close { pc } => media.close(participant, pc),
            PcMessage::Candidates { pc, candidates } => {
                for c in candidates {
                    media.candidate(participant, pc.clone(), c);
                }
            }
        }
    }
    Ok(answers)
}

/// The authoritative `peer_connections` of a `synced`: every connection the server keeps, with the
/// fresh answers to offers in the `sync` itself, or an offer the client has not answered yet.
pub(crate) fn synced_states(states: &[PcState], answers: &[Value]) -> Vec<Value> {
    states
        .iter()
        .map(|s| {
            if let Some(a) = answers.iter().find(|a| a["id"] == s.pc.as_str()) {
                a.clone()
            } else if let Some((revision, sdp)) = &s.pending_offer {
                description(&s.pc, "offer", *revision, sdp)
            } else {
                json!({"id": s.pc})
            }
        })
        .collect()
}

/// `subscribed.tracks` entries.
pub(crate) fn subscribed(list: &[(TrackSid, String)]) -> Vec<SubscribedEntry> {
    list.iter()
        .map(|(sid, id)| SubscribedEntry {
            sid: sid.to_string(),
            id: id.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_entries_the_client_sends() {
        let entries = json!([
            {"id": "pc1", "description": {"type": "offer", "revision": 1, "sdp": "v=0"}},
            {"id": "pc1", "ice": {"candidates": [{"candidate": "candidate:1 1 udp 1 10.0.0.1 5 typ host", "sdpMid": "0"}], "ufrag": "u", "revision": 2}},
            {"id": "pc1", "ice": {"candidates": [], "ufrag": "u", "revision": 3, "complete": true}},
            {"id": "pc2", "description": {"type": "close", "revision": 4}},
            {"description": {"type": "offer"}},
            {"id": "pc3", "description": {"type": "rollback", "revision": 1}}
        ]);
        let got = parse(entries.as_array().unwrap());
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            PcMessage::Offer {
                pc: "pc1".into(),
                revision: 1,
                sdp: "v=0".into()
            }
        );
        assert!(
            matches!(&got[1], PcMessage::Candidates { candidates, .. } if candidates.len() == 1)
        );
        assert_eq!(got[2], PcMessage::Close { pc: "pc2".into() });
    }

    #[test]
    fn synced_lists_every_connection() {
        let states = vec![
            PcState {
                pc: "a".into(),
                pending_offer: None,
            },
            PcState {
                pc: "b".into(),
                pending_offer: Some((3, "sdp-b".into())),
            },
            PcState {
                pc: "c".into(),
                pending_offer: None,
            },
        ];
        let answers = vec![description("c", "answer", 5, "sdp-c")];
        let got = synced_states(&states, &answers);
        assert_eq!(got[0], json!({"id": "a"}));
        assert_eq!(got[1]["description"]["type"], "offer");
        assert_eq!(got[2]["description"]["revision"], 5);
    }
}
