//! Other participants' changes told to the client: the lists the room delivers, one `update` each,
//! or gathered into one when several wait.

use std::sync::Arc;

use vroom_domain::live::{Notice, Told};
use vroom_sfu::Signal;

use super::{Conn, Flow, MOST_PARTICIPANTS_PER_UPDATE, Phase};
use crate::{rsp, tcmp};

impl Conn {
    /// `first` and the participant changes queued right behind it, in their order, for one
    /// `update` (twilio-video.js applies a message's participants one after the other, as if
    /// each had come alone). When the session keeps up, that is the one list its room's task
    /// delivered for a batch, shared with the room's other sessions and written once for all of
    /// them; when it lags, the lists queued meanwhile are gathered into one message of its own,
    /// up to [`MOST_PARTICIPANTS_PER_UPDATE`] changes. Stops at another kind of notice, which is
    /// held to be handled next.
    fn gather_participant_notices(&mut self, first: Arc<Told>) -> Vec<Arc<Told>> {
        let mut count = first.views.len();
        let mut told = vec![first];
        while count < MOST_PARTICIPANTS_PER_UPDATE {
            let next = match self.notices_rx.try_recv() {
                Ok(Notice::Participants(next)) => next,
                Ok(Notice::Participant(view)) => Arc::new(Told::new(vec![view])),
                Ok(other) => {
                    self.held_notice = Some(other);
                    break;
                }
                Err(_) => break,
            };
            if count + next.views.len() > MOST_PARTICIPANTS_PER_UPDATE {
                self.held_notice = Some(Notice::Participants(next));
                break;
            }
            count += next.views.len();
            told.push(next);
        }
        told
    }

    /// Tells the client of other participants' changes, in one `update`.
    pub(super) async fn on_participants(&mut self, first: Arc<Told>) -> Flow {
        let told = self.gather_participant_notices(first);
        let text = match told.as_slice() {
            [one] => one
                .wire
                .get_or_init(|| {
                    tcmp::msg_of_json(&rsp::participants_update(&one.views)).into_boxed_str()
                })
                .to_owned(),
            many => {
                let views: Vec<_> = many.iter().flat_map(|t| t.views.iter().cloned()).collect();
                tcmp::msg_of_json(&rsp::participants_update(&views))
            }
        };
        self.send(text).await;
        if let Phase::Live(live) = &mut self.phase {
            live.announced.extend(
                told.iter()
                    .flat_map(|t| t.views.iter())
                    .flat_map(|v| v.tracks.iter().map(|t| t.sid.to_string())),
            );
            if let Some(list) = live.pending_subscribed.take() {
                return self.on_media(Signal::Subscribed(list)).await;
            }
        }
        Flow::Continue
    }
}
