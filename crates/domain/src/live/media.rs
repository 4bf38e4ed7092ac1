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

/// A published track, with the texts subscribe rules match on made once per change.
struct Published {
    /// Index of its publisher among the members.
    owner: usize,
    /// Index among its publisher's tracks.
    index: usize,
    publisher_sid: String,
    track_sid: String,
}

impl LiveRoom {
    /// Recomputes every participant's subscriptions and records a command for each that changed.
    ///
    /// Called on every join and leave, so it costs O(members × published tracks), not O(members²):
    /// a room of a thousand without tracks compares a thousand empty lists, and the SID texts the
    /// rules match on are made once per published track.
    pub(super) fn resubscribe(&mut self, now: Timestamp, effects: &mut Effects) {
        debug_assert_eq!(
            self.published,
            self.members.iter().map(|m| m.tracks.len()).sum::<usize>()
        );
        // Nobody publishes and nobody receives: nothing to recompute (a large room of listeners
        // joins and leaves without a pass over its members).
        if self.published == 0 && !self.subscribed {
            return;
        }
        let published: Vec<Published> = self
            .members
            .iter()
            .enumerate()
            .flat_map(|(owner, m)| {
                m.tracks
                    .iter()
                    .enumerate()
                    .map(move |(index, t)| Published {
                        owner,
                        index,
                        publisher_sid: m.record.sid.to_string(),
                        track_sid: t.sid.to_string(),
                    })
            })
            .collect();
        let mut updates = Vec::new();
        for (i, member) in self.members.iter().enumerate() {
            let others: Vec<&Published> = published.iter().filter(|p| p.owner != i).collect();
            if others.is_empty() {
                if !member.subscriptions.is_empty() {
                    updates.push((i, Vec::new()));
                }
                continue;
            }
            let subjects: Vec<RuleSubject<'_>> = others
                .iter()
                .map(|p| {
                    let publisher = &self.members[p.owner];
                    let t = &publisher.tracks[p.index];
                    RuleSubject {
                        publisher_sid: &p.publisher_sid,
                        publisher_identity: &publisher.record.identity,
                        track_sid: &p.track_sid,
                        track_name: &t.info.name,
                        kind: t.info.kind,
                    }
                })
                .collect();
            let wanted: Vec<Subscription> = select(&member.rules, &subjects)
                .into_iter()
                .map(|n| {
                    let publisher = &self.members[others[n].owner];
                    let t = &publisher.tracks[others[n].index];
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
            let member = self.member_mut(i);
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
        self.subscribed = self.members.iter().any(|m| !m.subscriptions.is_empty());
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
        let member = self.member_mut(index);
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
