//! The sans-IO media server: every peer connection of every room, and the forwarding between them.
//!
//! Inputs are calls (`offer`, `answer`, `set_subscriptions`, `receive`, `handle_timeout`, …) with
//! the current time; outputs are polled with `poll_output`: datagrams to send, signals for a
//! participant's signaling session, and when the next timeout is due. No socket, no clock, no task.
//!
//! Forwarding is at the frame level: str0m depacketizes what a publisher sends and packetizes it
//! again for each subscriber, so every leg has its own sequence numbers, NACK/RTX buffer and RTCP.
//! Keyframe requests (PLI/FIR) from subscribers go to the publisher of the track, as do requests
//! made when a new subscriber starts or a publisher's stream has a gap.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::crypto::CryptoProvider;
use str0m::media::{KeyframeRequestKind, MediaData, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};
use vroom_domain::live::Subscription;
use vroom_domain::room::VideoCodec;
use vroom_domain::sid::{ParticipantSid, RoomSid, TrackSid};

use crate::MediaError;
use crate::peer::{OutState, Peer};

/// Keyframe requests for one incoming track at most this often.
const KEYFRAME_INTERVAL: Duration = Duration::from_secs(1);

/// Something for a participant's signaling session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A server offer on peer connection `pc`.
    Offer {
        /// Peer connection id.
        pc: String,
        /// Description revision.
        revision: u64,
        /// SDP (CRLF).
        sdp: String,
    },
    /// The full list of tracks the participant receives, with the id each arrives under.
    Subscribed(Vec<(TrackSid, String)>),
}

/// What the core asks its driver to do.
#[derive(Debug)]
pub enum CoreOutput {
    /// Send `data` to `destination`.
    Transmit {
        /// Where.
        destination: SocketAddr,
        /// What.
        data: Vec<u8>,
    },
    /// Tell a participant's session.
    Signal(ParticipantSid, Signal),
}

/// A peer connection's state, for a session that resumes after a signaling reconnection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcState {
    /// Peer connection id.
    pub pc: String,
    /// Our offer the client has not answered yet, if any: (revision, SDP).
    pub pending_offer: Option<(u64, String)>,
}

/// Static settings of the core.
#[derive(Clone)]
pub struct CoreConfig {
    /// The address clients send media to: our single UDP socket as announced in ICE candidates.
    pub public_addr: SocketAddr,
    /// Crypto for DTLS.
    pub crypto: Arc<CryptoProvider>,
}

enum Propagate {
    Media {
        publisher: ParticipantSid,
        track: String,
        data: Box<MediaData>,
    },
    Keyframe {
        publisher: ParticipantSid,
        track: String,
        kind: KeyframeRequestKind,
    },
    Data {
        publisher: ParticipantSid,
        track: String,
        binary: bool,
        data: Vec<u8>,
    },
    /// A subscriber's m-line opened: ask the publisher for a keyframe so video starts at once.
    Opened {
        publisher: ParticipantSid,
        track: String,
    },
}

/// The media server core.
pub struct SfuCore {
    config: CoreConfig,
    peers: Vec<Peer>,
    /// Subscriptions of participants that have no peer connection yet.
    waiting: Vec<(ParticipantSid, Vec<Subscription>)>,
    out: VecDeque<CoreOutput>,
    work: VecDeque<Propagate>,
}

impl SfuCore {
    /// An empty core.
    #[must_use]
    pub fn new(config: CoreConfig) -> Self {
        Self {
            config,
            peers: Vec::new(),
            waiting: Vec::new(),
            out: VecDeque::new(),
            work: VecDeque::new(),
        }
    }

    fn find(&self, participant: ParticipantSid, pc: &str) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.participant == participant && p.pc == pc)
    }

    fn new_rtc(&self, codecs: &[VideoCodec], now: Instant) -> Result<Rtc, MediaError> {
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_crypto_provider(Arc::clone(&self.config.crypto))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(codecs.contains(&VideoCodec::Vp8))
            .enable_h264(codecs.contains(&VideoCodec::H264));
        if codecs.is_empty() {
            config = config.enable_vp8(true);
        }
        let mut rtc = config.build(now);
        let candidate = Candidate::host(self.config.public_addr, "udp")
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        Ok(rtc)
    }

    /// The client's offer on peer connection `pc` (creating it on first use). Returns the answer,
    /// or `None` when the offer is ignored (stale, or crossing an offer of ours).
    ///
    /// # Errors
    /// When the offer cannot be applied.
    #[allow(clippy::too_many_arguments)]
    pub fn offer(
        &mut self,
        now: Instant,
        participant: ParticipantSid,
        room: RoomSid,
        codecs: &[VideoCodec],
        pc: &str,
        revision: u64,
        sdp: &str,
    ) -> Result<Option<String>, MediaError> {
        let i = match self.find(participant, pc) {
            Some(i) => i,
            None => {
                let rtc = self.new_rtc(codecs, now)?;
                let mut peer = Peer::new(participant, room, pc.to_owned(), rtc, now);
                let subs = self
                    .peers
                    .iter()
                    .find(|p| p.participant == participant)
                    .map(|p| {
                        p.outgoing
                            .iter()
                            .filter(|t| t.listed())
                            .map(|t| t.sub.clone())
                            .collect::<Vec<_>>()
                    })
                    .or_else(|| {
                        self.waiting
                            .iter()
                            .find(|(p, _)| *p == participant)
                            .map(|(_, s)| s.clone())
                    })
                    .unwrap_or_default();
                peer.set_subscriptions(&subs);
                self.waiting.retain(|(p, _)| *p != participant);
                self.peers.push(peer);
                self.peers.len() - 1
            }
        };
        let answer = self.peers[i].accept_offer(revision, sdp)?;
        self.drain(i, now);
        if answer.is_some() {
            self.renegotiate(i);
        }
        Ok(answer)
    }

    /// The client's answer to our offer.
    ///
    /// # Errors
    /// When the answer cannot be applied.
    pub fn answer(
        &mut self,
        now: Instant,
        participant: ParticipantSid,
        pc: &str,
        revision: u64,
        sdp: &str,
    ) -> Result<(), MediaError> {
        let Some(i) = self.find(participant, pc) else {
            return Ok(());
        };
        let applied = self.peers[i].accept_answer(revision, sdp)?;
        if applied {
            let opened: Vec<(ParticipantSid, String)> = self.peers[i]
                .outgoing
                .iter()
                .filter(|t| {
                    t.state == OutState::Open && t.sub.kind == vroom_domain::track::TrackKind::Video
                })
                .map(|t| (t.sub.publisher, t.sub.publisher_track_id.clone()))
                .collect();
            for (publisher, track) in opened {
                self.work.push_back(Propagate::Opened { publisher, track });
            }
        }
        self.drain(i, now);
        self.renegotiate(i);
        self.propagate(now);
        Ok(())
    }

    /// A remote ICE candidate the client trickled (an ICE-lite server learns them from checks too).
    pub fn add_candidate(&mut self, participant: ParticipantSid, pc: &str, candidate: &str) {
        let Some(i) = self.find(participant, pc) else {
            return;
        };
        let line = candidate.strip_prefix("a=").unwrap_or(candidate);
        if let Ok(c) = Candidate::from_sdp_string(line) {
            self.peers[i].rtc.add_remote_candidate(c);
        }
    }

    /// The client closed peer connection `pc`.
    pub fn close(&mut self, participant: ParticipantSid, pc: &str) {
        if let Some(i) = self.find(participant, pc) {
            let mut peer = self.peers.remove(i);
            peer.rtc.disconnect();
        }
    }

    /// The participant left its room: all its peer connections go.
    pub fn remove_participant(&mut self, participant: ParticipantSid) {
        for p in self
            .peers
            .iter_mut()
            .filter(|p| p.participant == participant)
        {
            p.rtc.disconnect();
        }
        self.peers.retain(|p| p.participant != participant);
        self.waiting.retain(|(p, _)| *p != participant);
    }

    /// The full list of tracks `participant` should receive.
    pub fn set_subscriptions(
        &mut self,
        now: Instant,
        participant: ParticipantSid,
        subs: &[Subscription],
    ) {
        let mine: Vec<usize> = (0..self.peers.len())
            .filter(|i| self.peers[*i].participant == participant)
            .collect();
        if mine.is_empty() {
            self.waiting.retain(|(p, _)| *p != participant);
            self.waiting.push((participant, subs.to_vec()));
            return;
        }
        for i in mine {
            self.peers[i].set_subscriptions(subs);
            // An offer comes with the list; without one (an offer of ours is still pending) the
            // client gets the list now and the m-lines with the next offer.
            if !self.renegotiate(i) {
                let listed = self.peers[i].subscribed();
                self.out
                    .push_back(CoreOutput::Signal(participant, Signal::Subscribed(listed)));
            }
            self.drain(i, now);
        }
        self.propagate(now);
    }

    /// Starts a negotiation if the peer has changes; the client gets the subscription list first and
    /// then the offer that carries it. Returns whether it did.
    fn renegotiate(&mut self, i: usize) -> bool {
        let Some((revision, sdp)) = self.peers[i].negotiate() else {
            return false;
        };
        let peer = &self.peers[i];
        self.out.push_back(CoreOutput::Signal(
            peer.participant,
            Signal::Subscribed(peer.subscribed()),
        ));
        self.out.push_back(CoreOutput::Signal(
            peer.participant,
            Signal::Offer {
                pc: peer.pc.clone(),
                revision,
                sdp,
            },
        ));
        true
    }

    /// What a resuming session must re-establish: each peer connection and any unanswered offer.
    #[must_use]
    pub fn state(&self, participant: ParticipantSid) -> (Vec<PcState>, Vec<(TrackSid, String)>) {
        let mine: Vec<&Peer> = self
            .peers
            .iter()
            .filter(|p| p.participant == participant)
            .collect();
        let pcs = mine
            .iter()
            .map(|p| PcState {
                pc: p.pc.clone(),
                pending_offer: p.pending.as_ref().map(|(_, r, s)| (*r, s.clone())),
            })
            .collect();
        let subscribed = mine.first().map(|p| p.subscribed()).unwrap_or_default();
        (pcs, subscribed)
    }

    /// A datagram arrived on our socket.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source,
                destination: self.config.public_addr,
                contents,
            },
        );
        let Some(i) = self.peers.iter().position(|p| p.rtc.accepts(&input)) else {
            tracing::trace!(%source, "a datagram no peer connection accepts");
            return;
        };
        if let Err(e) = self.peers[i].rtc.handle_input(input) {
            tracing::debug!(error = %e, "peer connection failed on input");
            self.peers[i].rtc.disconnect();
        }
        self.drain(i, now);
        self.propagate(now);
    }

    /// Time passed: every peer connection whose timeout is due gets it.
    pub fn handle_timeout(&mut self, now: Instant) {
        for i in 0..self.peers.len() {
            if self.peers[i].timeout <= now && self.peers[i].rtc.is_alive() {
                if let Err(e) = self.peers[i].rtc.handle_input(Input::Timeout(now)) {
                    tracing::debug!(error = %e, "peer connection failed on timeout");
                    self.peers[i].rtc.disconnect();
                }
                self.drain(i, now);
            }
        }
        self.propagate(now);
    }

    /// When `handle_timeout` is next needed.
    #[must_use]
    pub fn next_timeout(&self) -> Option<Instant> {
        self.peers
            .iter()
            .filter(|p| p.rtc.is_alive())
            .map(|p| p.timeout)
            .min()
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<CoreOutput> {
        self.out.pop_front()
    }

    /// Drains peer `i` until it wants a timeout; events become propagation work.
    fn drain(&mut self, i: usize, now: Instant) {
        loop {
            let output = match self.peers[i].rtc.poll_output() {
                Ok(o) => o,
                Err(e) => {
                    tracing::debug!(error = %e, "peer connection failed");
                    self.peers[i].rtc.disconnect();
                    self.peers[i].timeout = now + Duration::from_secs(3600);
                    return;
                }
            };
            match output {
                Output::Timeout(t) => {
                    self.peers[i].timeout = t;
                    return;
                }
                Output::Transmit(t) => {
                    self.out.push_back(CoreOutput::Transmit {
                        destination: t.destination,
                        data: t.contents.to_vec(),
                    });
                }
                Output::Event(e) => self.on_event(i, e, now),
            }
        }
    }

    fn on_event(&mut self, i: usize, event: Event, now: Instant) {
        let peer = &mut self.peers[i];
        match event {
            Event::MediaData(data) => {
                let Some(track) = peer.incoming.get(&data.mid).cloned() else {
                    return;
                };
                if !data.contiguous {
                    request_keyframe(peer, data.mid, KeyframeRequestKind::Pli, now);
                }
                self.work.push_back(Propagate::Media {
                    publisher: peer.participant,
                    track,
                    data: Box::new(data),
                });
            }
            Event::KeyframeRequest(req) => {
                if let Some(t) = peer.outgoing.iter().find(|t| t.mid == Some(req.mid)) {
                    self.work.push_back(Propagate::Keyframe {
                        publisher: t.sub.publisher,
                        track: t.sub.publisher_track_id.clone(),
                        kind: req.kind,
                    });
                }
            }
            // A channel the client opened (ours are those of its subscriptions).
            Event::ChannelOpen(cid, label) => {
                match peer.outgoing.iter_mut().find(|t| t.channel == Some(cid)) {
                    // One of ours opened: send what waited for it.
                    Some(t) => {
                        t.channel_open = true;
                        let held = std::mem::take(&mut t.held);
                        if let Some(mut channel) = peer.rtc.channel(cid) {
                            for (binary, data) in held {
                                if let Err(e) = channel.write(binary, &data) {
                                    tracing::debug!(error = %e, "data forwarding failed");
                                }
                            }
                        }
                    }
                    // The client's: a data track it publishes, labelled with the track's id.
                    None => {
                        peer.channels_in.insert(cid, label);
                    }
                }
            }
            Event::ChannelData(d) => {
                if let Some(track) = peer.channels_in.get(&d.id).cloned() {
                    self.work.push_back(Propagate::Data {
                        publisher: peer.participant,
                        track,
                        binary: d.binary,
                        data: d.data,
                    });
                }
            }
            Event::ChannelClose(cid) => {
                peer.channels_in.remove(&cid);
            }
            Event::Connected => {
                tracing::debug!(room = %peer.room, participant = %peer.participant, pc = %peer.pc, "media connected");
                let opened: Vec<(ParticipantSid, String)> = peer
                    .outgoing
                    .iter()
                    .filter(|t| t.state == OutState::Open)
                    .map(|t| (t.sub.publisher, t.sub.publisher_track_id.clone()))
                    .collect();
                for (publisher, track) in opened {
                    self.work.push_back(Propagate::Opened { publisher, track });
                }
            }
            _ => {}
        }
    }

    /// Carries out propagation work until none is left.
    fn propagate(&mut self, now: Instant) {
        while let Some(work) = self.work.pop_front() {
            match work {
                Propagate::Media {
                    publisher,
                    track,
                    data,
                } => {
                    for j in 0..self.peers.len() {
                        if self.peers[j].participant == publisher {
                            continue;
                        }
                        let mids: Vec<Mid> = self.peers[j]
                            .outgoing
                            .iter()
                            .filter(|t| {
                                t.state == OutState::Open
                                    && t.sub.publisher == publisher
                                    && t.sub.publisher_track_id == track
                            })
                            .filter_map(|t| t.mid)
                            .collect();
                        for mid in mids {
                            let Some(writer) = self.peers[j].rtc.writer(mid) else {
                                continue;
                            };
                            let Some(pt) = writer.match_params(data.params) else {
                                continue;
                            };
                            if let Err(e) =
                                writer.write(pt, data.network_time, data.time, data.data.clone())
                            {
                                tracing::debug!(error = %e, "forwarding failed");
                            }
                            self.drain(j, now);
                        }
                    }
                }
                Propagate::Keyframe {
                    publisher,
                    track,
                    kind,
                } => self.ask_keyframe(publisher, &track, kind, now),
                Propagate::Opened { publisher, track } => {
                    self.ask_keyframe(publisher, &track, KeyframeRequestKind::Pli, now);
                }
                Propagate::Data {
                    publisher,
                    track,
                    binary,
                    data,
                } => {
                    for j in 0..self.peers.len() {
                        if self.peers[j].participant == publisher {
                            continue;
                        }
                        let mut ready: Vec<ChannelId> = Vec::new();
                        for t in &mut self.peers[j].outgoing {
                            let wanted = matches!(t.state, OutState::Negotiating | OutState::Open)
                                && t.sub.publisher == publisher
                                && t.sub.publisher_track_id == track;
                            match (wanted, t.channel, t.channel_open) {
                                (true, Some(cid), true) => ready.push(cid),
                                // Not open yet: keep the message for when it is.
                                (true, _, false) => {
                                    if t.held.len() == crate::peer::MAX_HELD_MESSAGES {
                                        t.held.remove(0);
                                    }
                                    t.held.push((binary, data.clone()));
                                }
                                _ => {}
                            }
                        }
                        for cid in ready {
                            if let Some(mut channel) = self.peers[j].rtc.channel(cid)
                                && let Err(e) = channel.write(binary, &data)
                            {
                                tracing::debug!(error = %e, "data forwarding failed");
                            }
                            self.drain(j, now);
                        }
                    }
                }
            }
        }
    }

    /// Asks the publisher of `track` for a keyframe (throttled per track).
    fn ask_keyframe(
        &mut self,
        publisher: ParticipantSid,
        track: &str,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        for i in 0..self.peers.len() {
            if self.peers[i].participant != publisher {
                continue;
            }
            let mids: Vec<Mid> = self.peers[i]
                .incoming
                .iter()
                .filter(|(_, t)| *t == track)
                .map(|(m, _)| *m)
                .collect();
            for mid in mids {
                request_keyframe(&mut self.peers[i], mid, kind, now);
            }
            self.drain(i, now);
        }
    }
}

fn request_keyframe(peer: &mut Peer, mid: Mid, kind: KeyframeRequestKind, now: Instant) {
    if peer
        .keyframe_asked
        .get(&mid)
        .is_some_and(|t| now.saturating_duration_since(*t) < KEYFRAME_INTERVAL)
    {
        return;
    }
    if let Some(mut writer) = peer.rtc.writer(mid)
        && writer.request_keyframe(None, kind).is_ok()
    {
        peer.keyframe_asked.insert(mid, now);
    }
}
