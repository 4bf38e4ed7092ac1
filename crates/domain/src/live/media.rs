//! What each participant receives: its subscribe rules, the subscriptions they select among the
//! others' tracks, and the commands that tell the media server when that changes.

use super::{Effects, LiveRoom};
use crate::error::Error;
use crate::rules::{RuleSubject, SubscribeRule, select, validate_subscribe_rules};
use crate::sid::{ParticipantSid, TrackSid};
use crate::time::Timestamp;
use crate::track::TrackKind;

/// A track a participant receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The track.
    pub track: TrackSid,
    /// Who publishes it.
    pub publisher: ParticipantSid,
    /// The publisher's client id for the track (its SDP msid track-id or DataChannel label).
    pub publisher_track_id: String,
    /// Kind.
    pub kind: TrackKind,
    /// Name.
    pub name: String,
    /// Whether the publisher has it enabled.
    pub enabled: bool,
    /// The priority its publisher gave it (the SFU's allocator weighs it).
    pub priority: crate::track::TrackPriority,
    /// Since when it is received.
    pub since: Timestamp,
}

/// An instruction for the media server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaCommand {
    /// The full list of tracks `participant` should now receive.
    Subscriptions {
        /// The subscriber.
        participant: ParticipantSid,
        /// Its subscriptions.
        subscriptions: Vec<Subscription>,
    },
    /// `participant` left the room: drop its media.
    Gone {
        /// Who left.
        participant: ParticipantSid,
    },
    /// Start recording a published track.
    Record(crate::recording::RecordTrack),
    /// Stop a recording and finalize its file.
    StopRecording {
        /// The recording.
        recording: crate::sid::RecordingSid,
    },
}

impl LiveRoom {
    /// Recomputes every participant's subscriptions and records a command for each that changed.
    pub(super) fn resubscribe(&mut self, now: Timestamp, effects: &mut Effects) {
        let texts: Vec<(String, Vec<String>)> = self
            .members
            .iter()
            .map(|m| {
                (
                    m.record.sid.to_string(),
                    m.tracks.iter().map(|t| t.sid.to_string()).collect(),
                )
            })
            .collect();
        let mut updates = Vec::new();
        for (i, member) in self.members.iter().enumerate() {
            let mut subjects = Vec::new();
            let mut origin = Vec::new();
            for (j, other) in self.members.iter().enumerate() {
                if i == j {
                    continue;
                }
                for (k, t) in other.tracks.iter().enumerate() {
                    subjects.push(RuleSubject {
                        publisher_sid: &texts[j].0,
                        publisher_identity: &other.record.identity,
                        track_sid: &texts[j].1[k],
                        track_name: &t.info.name,
                        kind: t.info.kind,
                    });
                    origin.push((j, k));
                }
            }
            let wanted: Vec<Subscription> = select(&member.rules, &subjects)
                .into_iter()
                .map(|n| {
                    let (j, k) = origin[n];
                    let publisher = &self.members[j];
                    let t = &publisher.tracks[k];
                    let since = member
                        .subscriptions
                        .iter()
                        .find(|s| s.track == t.sid)
                        .map_or(now, |s| s.since);
                    Subscription {
                        track: t.sid,
                        publisher: publisher.record.sid,
                        publisher_track_id: t.info.client_id.clone(),
                        kind: t.info.kind,
                        name: t.info.name.clone(),
                        enabled: t.info.enabled,
                        priority: t.info.priority,
                        since,
                    }
                })
                .collect();
            if wanted != member.subscriptions {
                updates.push((i, wanted));
            }
        }
        for (i, wanted) in updates {
            let member = &mut self.members[i];
            let changed_set = member
                .subscriptions
                .iter()
                .map(|s| s.track)
                .ne(wanted.iter().map(|s| s.track));
            member.subscriptions = wanted;
            if changed_set {
                effects.media.push(MediaCommand::Subscriptions {
                    participant: member.record.sid,
                    subscriptions: member.subscriptions.clone(),
                });
            }
        }
    }

    /// Replaces a participant's subscribe rules.
    ///
    /// # Errors
    /// `SubscribeRulesInvalid` (the old rules stay), `ParticipantNotFound`.
    pub fn set_subscribe_rules(
        &mut self,
        now: Timestamp,
        sid: ParticipantSid,
        rules: Vec<SubscribeRule>,
    ) -> Result<Effects, Error> {
        validate_subscribe_rules(&rules)?;
        let index = self.member_index(sid)?;
        let member = &mut self.members[index];
        member.rules = rules;
        member.rules_updated = now;
        let mut effects = Effects::default();
        self.resubscribe(now, &mut effects);
        Ok(effects)
    }

    /// A participant's subscribe rules and when they were last set.
    #[must_use]
    pub fn subscribe_rules(&self, sid: ParticipantSid) -> Option<(Vec<SubscribeRule>, Timestamp)> {
        self.member(sid).map(|m| (m.rules.clone(), m.rules_updated))
    }

    /// The tracks a participant receives now.
    #[must_use]
    pub fn subscriptions(&self, sid: ParticipantSid) -> Option<Vec<Subscription>> {
        self.member(sid).map(|m| m.subscriptions.clone())
    }
}
