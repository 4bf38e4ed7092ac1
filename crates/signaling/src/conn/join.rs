//! Joining: `connect` (a new participant) and `sync` (a participant resuming on a new connection).

use std::sync::Arc;

use vroom_domain::live::TrackOutcome;
use vroom_domain::participant::ParticipantStatus;
use vroom_domain::sid::RoomSid;
use vroom_rooms::{JoinRequest, Joined, SessionLink, SessionMemory};

use super::{Conn, Counters, Flow, Live, Phase};
use crate::pcs;
use crate::rsp::{
    self, Connected, LocalParticipant, LocalParticipantAck, Published, PublishedEntry, Recording,
    RemoteParticipant, ServerUpdate, SessionOptions, Subscribed, TrackError,
};
use crate::token::{self, VideoGrant};

fn announced_in(
    roster: &[Arc<vroom_domain::live::ParticipantView>],
) -> std::collections::HashSet<String> {
    roster
        .iter()
        .flat_map(|v| v.tracks.iter().map(|t| t.sid.to_string()))
        .collect()
}

/// Whether two room names, one of them a room SID, name the same room (a token granted `standup`
/// lets its holder join by that room's SID, and the other way round).
async fn same_room(sig: &crate::Signaling, a: &str, b: &str) -> bool {
    let (sid, name) = match (a.parse::<RoomSid>(), b.parse::<RoomSid>()) {
        (Ok(sid), Err(_)) => (sid, b),
        (Err(_), Ok(sid)) => (sid, a),
        _ => return false,
    };
    matches!(sig.hub.store().room(sid).await, Ok(Some(room)) if room.unique_name == name)
}

/// Checks `token` with the stored key that signed it (none when unknown or revoked: 20103).
/// `Err` carries the code and message the client is told; a store failure is 53104.
pub(super) async fn verify_token(
    sig: &crate::Signaling,
    token: &str,
    now: vroom_domain::time::Timestamp,
) -> Result<VideoGrant, (u32, String)> {
    let unavailable = |e: vroom_store::StoreError| {
        tracing::error!(error = %e, "cannot read API keys");
        (53104, "Unable to connect to Room".to_owned())
    };
    let key = match token::issuer(token) {
        Some(sid) => {
            // Read before the key: a change after this read moves the version, so a key kept
            // now is kept under a version the next join no longer sees.
            let version = sig
                .hub
                .store()
                .credentials_version()
                .await
                .map_err(unavailable)?;
            match sig.known_key(version, sid) {
                Some(key) => Some(key),
                None => {
                    let found = sig
                        .hub
                        .store()
                        .api_key(sid)
                        .await
                        .map_err(unavailable)?
                        .filter(vroom_store::ApiKey::active);
                    if let Some(key) = &found {
                        sig.keep_key(version, key);
                    }
                    found
                }
            }
        }
        None => None,
    };
    let keys: Vec<token::TokenKey> = key
        .into_iter()
        .map(|k| token::TokenKey {
            account_sid: k.account_sid,
            api_key_sid: k.sid,
            secret: k.secret,
        })
        .collect();
    token::verify(token, &keys, now).map_err(|e| (e.code(), e.to_string()))
}

impl Conn {
    /// Checks `token` (see [`verify_token`]).
    pub(super) async fn verify(&mut self, token: &str) -> Result<VideoGrant, (u32, String)> {
        verify_token(&self.sig, token, self.now()).await
    }

    /// The client's tracks as domain values, plus refusals for the ones that are not valid.
    pub(super) fn tracks_of(
        participant: Option<&LocalParticipant>,
    ) -> (Vec<vroom_domain::track::TrackInfo>, Vec<PublishedEntry>) {
        let mut infos = Vec::new();
        let mut refused = Vec::new();
        for t in participant.map(|p| p.tracks.as_slice()).unwrap_or_default() {
            match t.to_info() {
                Some(info) => infos.push(info),
                None => refused.push(PublishedEntry {
                    id: t.id.clone(),
                    sid: None,
                    state: "failed",
                    error: Some(TrackError {
                        code: 53300,
                        message: "Track is invalid".into(),
                    }),
                }),
            }
        }
        (infos, refused)
    }

    /// Tells the media server the SIDs of the tracks the participant publishes (its publisher hints
    /// name tracks by SID).
    pub(super) fn tell_media_published(
        &self,
        me: vroom_domain::sid::ParticipantSid,
        outcomes: &[(String, TrackOutcome)],
    ) {
        if let Some(media) = &self.sig.media {
            let tracks = outcomes
                .iter()
                .filter_map(|(id, o)| match o {
                    TrackOutcome::Published(sid) => Some((id.clone(), *sid)),
                    TrackOutcome::Failed(_) => None,
                })
                .collect();
            media.published(me, tracks);
        }
    }

    pub(super) fn published_entries(
        outcomes: &[(String, TrackOutcome)],
        refused: Vec<PublishedEntry>,
    ) -> Vec<PublishedEntry> {
        let mut entries: Vec<PublishedEntry> = outcomes
            .iter()
            .map(|(id, outcome)| match outcome {
                TrackOutcome::Published(sid) => PublishedEntry {
                    id: id.clone(),
                    sid: Some(sid.to_string()),
                    state: "ready",
                    error: None,
                },
                TrackOutcome::Failed(e) => PublishedEntry {
                    id: id.clone(),
                    sid: None,
                    state: "failed",
                    error: Some(TrackError {
                        code: e.code(),
                        message: e.to_string(),
                    }),
                },
            })
            .collect();
        entries.extend(refused);
        entries
    }

    pub(super) fn link(&self, memory: SessionMemory) -> SessionLink {
        SessionLink {
            id: self.session,
            tx: self.notices_tx.clone(),
            memory,
        }
    }

    pub(super) async fn on_connect(&mut self, c: rsp::Connect) -> Flow {
        let grant = match self.verify(&c.token).await {
            Ok(g) => g,
            Err((code, message)) => return self.end_with_error(code, message).await,
        };
        let name = match (
            c.name.as_deref().filter(|n| !n.is_empty()),
            grant.room.as_deref(),
        ) {
            (Some(asked), Some(granted))
                if asked != granted && !same_room(&self.sig, asked, granted).await =>
            {
                let e = token::TokenError::Grants("the token's video grant is for another room");
                return self.end_with_error(e.code(), e.to_string()).await;
            }
            (asked, granted) => asked.or(granted).map(str::to_owned),
        };
        let (infos, refused) = Self::tracks_of(c.participant.as_ref());
        let counters = Arc::new(Counters::new());
        let memory: SessionMemory = counters.clone();
        let link = self.link(memory);
        let request = JoinRequest {
            identity: grant.identity.clone(),
            tracks: infos,
            rules: c.subscribe.as_ref().and_then(rsp::subscribe_rules),
            session: link,
        };
        let joined = match self
            .sig
            .hub
            .join(grant.account_sid, name.as_deref(), request)
            .await
        {
            Ok(j) => j,
            Err(e) => return self.refused(e).await,
        };
        let Joined {
            room,
            participant,
            roster,
            published,
            recording,
            ..
        } = joined;
        self.settle_turn(&room);
        let key = self.sig.resume.key_for(participant.sid);
        let entries = Self::published_entries(&published, refused);
        self.participant = Some(participant.sid);
        let mut options = vroom_sfu::MediaOptions::from_connect(
            c.media_signaling.as_ref(),
            c.bandwidth_profile.as_ref(),
        );
        options.recording_warnings = c
            .participant
            .as_ref()
            .is_some_and(rsp::LocalParticipant::wants_recording_warnings);
        let media_signaling = match &self.sig.media {
            Some(media) => {
                let reply = options.reply();
                media.options(participant.sid, room.sid, options);
                reply
            }
            None => serde_json::json!({}),
        };
        // After the options: they place the participant on its room's media worker.
        self.tell_media_published(participant.sid, &published);
        let answers = match self
            .media_answers(participant.sid, &room, &c.peer_connections)
            .await
        {
            Ok(a) => a,
            Err(e) => return self.end_with_error(e.code(), e.to_string()).await,
        };
        let connected = Connected {
            kind: "connected",
            version: rsp::RSP_VERSION,
            session: key,
            sid: room.sid.to_string(),
            name: room.unique_name.clone(),
            participant: LocalParticipantAck {
                sid: participant.sid.to_string(),
                identity: participant.identity.clone(),
            },
            participants: roster.to_vec(),
            peer_connections: answers,
            published: Published {
                revision: counters.next_published(),
                tracks: entries.clone(),
            },
            subscribed: Subscribed {
                revision: counters.next_subscribed(),
                tracks: Vec::new(),
            },
            recording: Recording {
                revision: recording.0,
                is_recording: recording.1,
            },
            media_signaling,
            options: SessionOptions {
                session_timeout: u64::try_from(
                    self.sig.hub.config().reconnect_window.millis() / 1000,
                )
                .unwrap_or(30),
                signaling_region: self.region,
                media_region: room.settings.media_region.clone(),
            },
        };
        tracing::debug!(room = %room.sid, participant = %participant.sid, session = self.session, "signaling session joined");
        self.phase = Phase::Live(Box::new(Live {
            room,
            participant,
            counters,
            client_tracks: c.participant.map(|p| p.tracks).unwrap_or_default(),
            published: entries,
            announced: announced_in(&roster),
            pending_subscribed: None,
        }));
        self.send(connected.to_msg()).await;
        Flow::Continue
    }

    pub(super) async fn on_sync(&mut self, s: rsp::Sync) -> Flow {
        let grant = match self.verify(&s.token).await {
            Ok(g) => g,
            Err((code, message)) => return self.end_with_error(code, message).await,
        };
        let not_found = vroom_domain::Error::ParticipantNotFound;
        let Some(sid) = self.sig.resume.check(&s.session) else {
            return self
                .end_with_error(not_found.code(), not_found.to_string())
                .await;
        };
        let record = match self.sig.hub.store().participant(sid).await {
            Ok(Some(p))
                if p.status == ParticipantStatus::Connected
                    && p.identity == grant.identity
                    && p.account_sid == grant.account_sid =>
            {
                p
            }
            _ => {
                return self
                    .end_with_error(not_found.code(), not_found.to_string())
                    .await;
            }
        };
        let fresh: SessionMemory = Arc::new(Counters::new());
        let joined = match self
            .sig
            .hub
            .resume(record.room_sid, sid, self.link(fresh))
            .await
        {
            Ok(j) => j,
            Err(e) => return self.refused(e).await,
        };
        let counters = joined
            .memory
            .clone()
            .and_then(|m| m.downcast::<Counters>().ok())
            .unwrap_or_else(|| Arc::new(Counters::new()));
        self.participant = Some(sid);
        let answers = match self
            .media_answers(sid, &joined.room, &s.peer_connections)
            .await
        {
            Ok(a) => a,
            Err(e) => return self.end_with_error(e.code(), e.to_string()).await,
        };
        let resume = match &self.sig.media {
            Some(media) => media.state(sid).await,
            None => vroom_sfu::ResumeState::default(),
        };
        let (infos, refused) = Self::tracks_of(s.participant.as_ref());
        let outcomes = self
            .sig
            .hub
            .set_tracks(record.room_sid, sid, self.session, infos)
            .await
            .unwrap_or_default();
        self.tell_media_published(sid, &outcomes);
        let entries = Self::published_entries(&outcomes, refused);
        let synced = ServerUpdate {
            kind: "synced",
            session: Some(s.session),
            participants: Some(
                joined
                    .roster
                    .iter()
                    .map(|v| RemoteParticipant::from(&**v))
                    .collect(),
            ),
            peer_connections: Some(pcs::synced_states(&resume.pcs, &answers)),
            published: Some(Published {
                revision: counters.next_published(),
                tracks: entries.clone(),
            }),
            subscribed: Some(Subscribed {
                revision: counters.next_subscribed(),
                tracks: pcs::subscribed(&resume.subscribed),
            }),
            recording: Some(Recording {
                revision: joined.recording.0,
                is_recording: joined.recording.1,
            }),
            ..ServerUpdate::update()
        };
        tracing::info!(room = %joined.room.sid, participant = %sid, "participant resumed");
        self.phase = Phase::Live(Box::new(Live {
            room: joined.room,
            participant: joined.participant,
            counters,
            client_tracks: s.participant.map(|p| p.tracks).unwrap_or_default(),
            published: entries,
            announced: announced_in(&joined.roster),
            pending_subscribed: None,
        }));
        self.send_msg(&synced).await;
        // Warnings told while the client was away are told again (the client ignores states it has).
        if !resume.warnings.is_empty()
            && let Phase::Live(live) = &self.phase
        {
            let warning = super::media::warning(live.counters.next_warnings(), &resume.warnings);
            self.send_msg(&warning).await;
        }
        Flow::Continue
    }
}
