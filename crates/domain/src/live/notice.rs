//! What sessions are told: notices, who each is for, and the lists a room's driver delivers.

use std::sync::Arc;

use super::{ParticipantView, Rendered};
use crate::participant::EndReason;
use crate::sid::ParticipantSid;

/// Something a connected session must be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Another participant changed (joined, changed tracks, is reconnecting, left). Shared: one
    /// view goes to every other member, and each session's queue stays a few bytes per slot.
    Participant(Arc<ParticipantView>),
    /// Other participants' changes, in their order, told together: what a room's task delivers
    /// for the `Participant` notices of one batch. One list goes to every session that is told
    /// exactly these changes, with its wire form written once for all of them.
    Participants(Arc<Told>),
    /// This session's own participant was removed from the room, for the given reason.
    Removed(EndReason),
    /// The room started or stopped recording.
    Recording {
        /// Increases with every change.
        revision: u64,
        /// Whether any track is recorded now.
        is_recording: bool,
    },
}

/// Participant changes told together ([`Notice::Participants`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Told {
    /// The changed participants' states, in the order they changed.
    pub views: Vec<Arc<ParticipantView>>,
    /// The message as the edge writes it, kept by the first session that sends it. Opaque here.
    pub wire: Rendered,
}

impl Told {
    /// `views`, not yet written.
    #[must_use]
    pub fn new(views: Vec<Arc<ParticipantView>>) -> Self {
        Self {
            views,
            wire: Rendered::default(),
        }
    }
}

/// Who a notice is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum To {
    /// One participant's session.
    One(ParticipantSid),
    /// Every other participant attached (with a live session) when the notice is taken, in its
    /// turn among the step's notices: a participant that joins in the same step is told only what
    /// comes after the step (its roster shows the rest), and one removed earlier in the step is
    /// not told. One entry instead of one per member, so that a change in a room of a thousand
    /// costs its driver one entry to stage, whatever the room's size.
    Others(ParticipantSid),
}
