//! Media warnings: a recorded track that brings no media.
//!
//! twilio-video.js asks for them with `notifyWarnings: ['recording-media-lost']` (`connect`'s
//! `participant.media_warnings: ["recordings"]`). Twilio raises the warning when the media server
//! has seen no media on a published track it records for 30 seconds, and clears it when media comes
//! again. Here every recorder notes when its track's last packet with a payload arrived; the
//! adaptation tick compares that with the time passed in and tells the publisher's session of each
//! change of state ([`Signal::Warnings`]). Only changes are told, and `Ok` only after `NoMedia`:
//! the client emits `warningsCleared` on any `OK` it did not have, so an `OK` never told otherwise
//! would clear nothing and still be seen. Publishers that did not ask are never told anything.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use vroom_domain::sid::{ParticipantSid, TrackSid};

use crate::core::{CoreOutput, SfuCore, Signal};

/// How long a recorded track may bring no media before its publisher is warned (Twilio's
/// documented threshold for `recording-media-lost`).
pub const RECORDING_MEDIA_TIMEOUT: Duration = Duration::from_secs(30);

/// The media state of a recorded track, as its publisher is told it (RSP `recordings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaState {
    /// Media arrives (`OK`).
    Ok,
    /// None arrived for the timeout (`NO_MEDIA`).
    NoMedia,
}

impl MediaState {
    /// The value twilio-video.js reads.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::NoMedia => "NO_MEDIA",
        }
    }
}

/// What each publisher was last told of its tracks; a track appears once it was warned about.
pub(crate) type Told = HashMap<ParticipantSid, HashMap<TrackSid, MediaState>>;

/// The state of a track whose last media came at `last_media` (its recording's start if none).
fn state_at(now: Instant, last_media: Instant, timeout: Duration) -> MediaState {
    if now.saturating_duration_since(last_media) >= timeout {
        MediaState::NoMedia
    } else {
        MediaState::Ok
    }
}

impl SfuCore {
    fn wants_warnings(&self, publisher: ParticipantSid) -> bool {
        self.options
            .get(&publisher)
            .is_some_and(|o| o.recording_warnings)
    }

    /// Compares every recorded track's last media with `now`; tells each publisher that asked what
    /// changed.
    pub(crate) fn check_recording_media(&mut self, now: Instant) {
        let timeout = self.config.recording_media_timeout;
        let mut changes: Vec<(ParticipantSid, TrackSid, MediaState)> = Vec::new();
        for (publisher, tracks) in &self.recorders {
            if !self.wants_warnings(*publisher) {
                continue;
            }
            let told = self.told.get(publisher);
            for rec in tracks.values() {
                let state = state_at(now, rec.last_media, timeout);
                let before = told
                    .and_then(|t| t.get(&rec.track))
                    .copied()
                    .unwrap_or(MediaState::Ok);
                if state != before {
                    changes.push((*publisher, rec.track, state));
                }
            }
        }
        self.tell(changes);
    }

    /// A recording of `track` stopped: a warning about it no longer holds.
    pub(crate) fn recording_media_ended(&mut self, publisher: ParticipantSid, track: TrackSid) {
        let warned = self
            .told
            .get(&publisher)
            .and_then(|t| t.get(&track))
            .is_some_and(|s| *s == MediaState::NoMedia);
        if warned {
            self.tell(vec![(publisher, track, MediaState::Ok)]);
        }
    }

    fn tell(&mut self, mut changes: Vec<(ParticipantSid, TrackSid, MediaState)>) {
        changes.sort_by_key(|(p, t, _)| (*p, *t));
        let mut at = 0;
        while at < changes.len() {
            let publisher = changes[at].0;
            let end = changes[at..]
                .iter()
                .position(|(p, _, _)| *p != publisher)
                .map_or(changes.len(), |n| at + n);
            let told = self.told.entry(publisher).or_default();
            let list: Vec<(TrackSid, MediaState)> = changes[at..end]
                .iter()
                .map(|(_, track, state)| {
                    told.insert(*track, *state);
                    (*track, *state)
                })
                .collect();
            self.out
                .push_back(CoreOutput::Signal(publisher, Signal::Warnings(list)));
            at = end;
        }
    }

    /// The state of every track `participant` was ever warned about, for a session that resumes:
    /// what it was told while its signaling was away is told again.
    pub(crate) fn warnings_told(&self, participant: ParticipantSid) -> Vec<(TrackSid, MediaState)> {
        let mut list: Vec<(TrackSid, MediaState)> = self
            .told
            .get(&participant)
            .map(|t| t.iter().map(|(k, v)| (*k, *v)).collect())
            .unwrap_or_default();
        list.sort_by_key(|(t, _)| *t);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_track_is_without_media_from_the_timeout_on() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(30);
        let at = |s: u64| t0 + Duration::from_secs(s);
        assert_eq!(state_at(at(29), t0, timeout), MediaState::Ok);
        assert_eq!(state_at(at(30), t0, timeout), MediaState::NoMedia);
        assert_eq!(state_at(at(31), at(5), timeout), MediaState::Ok);
        // A time before the last media (reordered inputs) is not "no media".
        assert_eq!(state_at(t0, at(5), timeout), MediaState::Ok);
        assert_eq!(MediaState::NoMedia.as_str(), "NO_MEDIA");
        assert_eq!(MediaState::Ok.as_str(), "OK");
    }
}
