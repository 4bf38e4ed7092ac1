//! Media: the client's `peer_connections` entries to the media server, and its offers and
//! subscription lists back to the client.

use vroom_domain::room::Room;
use vroom_sfu::Signal;

use super::{Conn, Flow, Phase};
use crate::pcs;
use crate::rsp::{ServerUpdate, Subscribed, Warning};

impl Conn {
    /// Hands the client's `peer_connections` entries to the media server; returns its answers.
    /// Without a media server, offers stay unanswered (the client stays connected without media).
    pub(super) async fn media_answers(
        &mut self,
        me: vroom_domain::sid::ParticipantSid,
        room: &Room,
        entries: &[serde_json::Value],
    ) -> Result<Vec<serde_json::Value>, vroom_sfu::MediaError> {
        let Some(media) = self.sig.media.clone() else {
            return Ok(Vec::new());
        };
        media.attach(me, self.media_tx.clone());
        pcs::apply(&media, me, room, pcs::parse(entries)).await
    }

    /// A server offer or a new subscription list for this participant's client.
    pub(super) async fn on_media(&mut self, signal: Signal) -> Flow {
        let Phase::Live(live) = &mut self.phase else {
            return Flow::Continue;
        };
        let update = match signal {
            Signal::Warnings(list) => {
                let warning = warning(live.counters.next_warnings(), &list);
                self.send_msg(&warning).await;
                return Flow::Continue;
            }
            Signal::Offer { pc, revision, sdp } => ServerUpdate {
                peer_connections: Some(vec![pcs::description(&pc, "offer", revision, &sdp)]),
                ..ServerUpdate::update()
            },
            Signal::Subscribed(list) => {
                if !list
                    .iter()
                    .all(|(sid, _)| live.announced.contains(&sid.to_string()))
                {
                    live.pending_subscribed = Some(list);
                    return Flow::Continue;
                }
                live.pending_subscribed = None;
                ServerUpdate {
                    subscribed: Some(Subscribed {
                        revision: live.counters.next_subscribed(),
                        tracks: pcs::subscribed(&list),
                    }),
                    ..ServerUpdate::update()
                }
            }
        };
        self.send_msg(&update).await;
        Flow::Continue
    }
}

/// The `warning` telling `list`'s media states (the media server sends them only to clients that
/// asked).
pub(super) fn warning(
    revision: u64,
    list: &[(vroom_domain::sid::TrackSid, vroom_sfu::MediaState)],
) -> Warning {
    let tracks: Vec<(String, &'static str)> = list
        .iter()
        .map(|(sid, state)| (sid.to_string(), state.as_str()))
        .collect();
    Warning::new(revision, &tracks)
}
