//! Which published tracks the room records: its recording rules select among every audio and video
//! track, and each selected track has one recording in progress. A track that stops being selected
//! (rules changed, unpublished, its publisher left, the room ended) has its recording stopped; the
//! media server then finalizes the file and the record is completed (or failed) outside the room.

use super::{Effects, LiveRoom, MediaCommand, Write};
use crate::error::Error;
use crate::event::{EventKind, RecordingFacts};
use crate::recording::{RecordTrack, Recording, RecordingCodec};
use crate::room::{Room, VideoCodec};
use crate::rules::{RecordingRule, RuleSubject, RuleType, TrackRule, select};
use crate::sid::{IdSource, RecordingSid, TrackSid};
use crate::time::Timestamp;
use crate::track::TrackKind;

/// A recording in progress: the track and the recording's SID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Active {
    pub track: TrackSid,
    pub recording: RecordingSid,
}

/// The recording rules of a room: those it was created with or last given, else everything when it
/// records participants on connect, else nothing.
#[must_use]
pub fn initial_recording_rules(room: &Room) -> Vec<RecordingRule> {
    if !room.settings.recording_rules.is_empty() {
        return room.settings.recording_rules.clone();
    }
    if room.settings.record_participants_on_connect {
        return vec![rule_all(RuleType::Include)];
    }
    vec![rule_all(RuleType::Exclude)]
}

fn rule_all(rule_type: RuleType) -> TrackRule {
    TrackRule {
        rule_type,
        all: Some(true),
        kind: None,
        publisher: None,
        track: None,
        priority: None,
    }
}

impl LiveRoom {
    /// The recording rules in force.
    #[must_use]
    pub fn recording_rules(&self) -> &[RecordingRule] {
        &self.recording_rules
    }

    /// Whether any track is being recorded.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        !self.recordings.is_empty()
    }

    /// Replaces the room's recording rules: recordings start and stop to match.
    ///
    /// # Errors
    /// `RecordingRulesInvalid` (the old rules stay), `RoomCompleted`.
    pub fn set_recording_rules(
        &mut self,
        now: Timestamp,
        rules: Vec<RecordingRule>,
        ids: &dyn IdSource,
    ) -> Result<Effects, Error> {
        if !self.room.is_in_progress() {
            return Err(Error::RoomCompleted);
        }
        crate::rules::validate_recording_rules(&rules)?;
        self.room.settings.recording_rules.clone_from(&rules);
        self.room.date_updated = now;
        self.recording_rules = rules;
        self.recording_rules_updated = now;
        let mut effects = Effects::default();
        effects.writes.push(Write::UpdateRoom(self.room.clone()));
        self.rerecord(now, Some(ids), &mut effects);
        Ok(effects)
    }

    /// When the recording rules were last set (the room's creation if never).
    #[must_use]
    pub fn recording_rules_updated(&self) -> Timestamp {
        self.recording_rules_updated
    }

    /// Starts recordings of newly selected tracks (when `ids` is given) and stops those of tracks no
    /// longer selected or gone.
    pub(super) fn rerecord(
        &mut self,
        now: Timestamp,
        ids: Option<&dyn IdSource>,
        effects: &mut Effects,
    ) {
        // The SIDs as text, only for members that publish a track that can be recorded: in a
        // large room most publish nothing, and formatting every member's SID at every join and
        // leave was most of a departure's cost.
        let recordable =
            |m: &super::Member| m.tracks.iter().any(|t| t.info.kind != TrackKind::Data);
        let texts: Vec<Option<(String, Vec<String>)>> = self
            .members
            .iter()
            .map(|m| {
                recordable(m).then(|| {
                    (
                        m.record.sid.to_string(),
                        m.tracks.iter().map(|t| t.sid.to_string()).collect(),
                    )
                })
            })
            .collect();
        let mut subjects = Vec::new();
        let mut origin = Vec::new();
        if self.room.is_in_progress() {
            for (j, m) in self.members.iter().enumerate() {
                let Some((publisher_sid, track_sids)) = &texts[j] else {
                    continue;
                };
                for (k, t) in m.tracks.iter().enumerate() {
                    if t.info.kind == TrackKind::Data {
                        continue;
                    }
                    subjects.push(RuleSubject {
                        publisher_sid,
                        publisher_identity: &m.record.identity,
                        track_sid: &track_sids[k],
                        track_name: &t.info.name,
                        kind: t.info.kind,
                    });
                    origin.push((j, k));
                }
            }
        }
        let chosen: Vec<(usize, usize)> = select(&self.recording_rules, &subjects)
            .into_iter()
            .map(|n| origin[n])
            .collect();
        let was_recording = self.is_recording();
        let wanted: Vec<TrackSid> = chosen
            .iter()
            .map(|&(j, k)| self.members[j].tracks[k].sid)
            .collect();
        let stopped: Vec<Active> = self
            .recordings
            .iter()
            .filter(|a| !wanted.contains(&a.track))
            .copied()
            .collect();
        self.recordings.retain(|a| wanted.contains(&a.track));
        for a in stopped {
            effects.media.push(MediaCommand::StopRecording {
                recording: a.recording,
            });
        }
        let mut started = Vec::new();
        if let Some(ids) = ids {
            for (j, k) in chosen {
                let member = &self.members[j];
                let t = &member.tracks[k];
                if self.recordings.iter().any(|a| a.track == t.sid) {
                    continue;
                }
                let codec = match t.info.kind {
                    TrackKind::Audio => RecordingCodec::Opus,
                    _ => match self.room.settings.video_codecs.first() {
                        Some(VideoCodec::H264) => RecordingCodec::H264,
                        _ => RecordingCodec::Vp8,
                    },
                };
                let recording = Recording::start(
                    RecordingSid::generate(ids),
                    self.room.account_sid,
                    self.room.sid,
                    member.record.sid,
                    t.sid,
                    t.info.name.clone(),
                    t.info.kind,
                    codec,
                    now,
                );
                effects.media.push(MediaCommand::Record(RecordTrack {
                    recording: recording.sid,
                    publisher: member.record.sid,
                    publisher_track_id: t.info.client_id.clone(),
                    track: t.sid,
                    kind: t.info.kind,
                    codec,
                    file_name: recording.file_name(),
                }));
                self.recordings.push(Active {
                    track: t.sid,
                    recording: recording.sid,
                });
                started.push(RecordingFacts::of(
                    &recording,
                    &member.record.identity,
                    None,
                ));
                effects.writes.push(Write::InsertRecording(recording));
            }
        }
        for facts in started {
            if let Some(mut ev) = self.event(EventKind::RecordingStarted, now) {
                ev.recording = Some(facts);
                effects.events.push(ev);
            }
        }
        if was_recording != self.is_recording() {
            self.recording_changed(effects);
        }
    }

    /// Tells every attached participant whether the room records now.
    fn recording_changed(&mut self, effects: &mut Effects) {
        self.recording_revision += 1;
        let state = super::Notice::Recording {
            revision: self.recording_revision,
            is_recording: self.is_recording(),
        };
        for m in &self.members {
            if m.detached_since.is_none() {
                effects
                    .notices
                    .push((super::To::One(m.record.sid), state.clone()));
            }
        }
    }

    /// The recording state as a joining client gets it: (revision, is recording).
    #[must_use]
    pub fn recording_state(&self) -> (u64, bool) {
        (self.recording_revision, self.is_recording())
    }
}
