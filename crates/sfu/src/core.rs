//! The sans-IO media server: every peer connection of every room, and the forwarding between them.
//!
//! Inputs are calls (`offer`, `answer`, `set_subscriptions`, `receive`, `handle_timeout`, …) with
//! the current time; outputs are polled with `poll_output`: datagrams to send, signals for a
//! participant's signaling session, and when the next timeout is due. No socket, no clock, no task.
//!
//! Forwarding is at the RTP level (`rtp.rs`): str0m runs in RTP mode, each publisher packet is
//! handed, payload shared, to the forwarder of every subscriber of its track, which picks the layer
//! (simulcast stream) the subscriber gets and rewrites sequence numbers, timestamps and VP8 picture
//! ids so the subscriber sees one continuous stream on its own SSRC. str0m keeps each leg's NACK/RTX
//! and RTCP. Keyframe requests (PLI/FIR) from subscribers go to the stream of the publisher they
//! receive, as do requests made when a subscriber starts or switches layer.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::channel::ChannelId;
use str0m::crypto::CryptoProvider;
use str0m::media::KeyframeRequestKind;
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Rtc, RtcConfig};
use vroom_domain::live::Subscription;
use vroom_domain::room::VideoCodec;
use vroom_domain::sid::{ParticipantSid, RoomSid, TrackSid};

use crate::peer::{OutState, Peer};
use crate::recordings::RecordIo;
use crate::rtp::Forwarded;
use crate::shrink::{shrink_map, shrink_vec};
use crate::stats::MediaStats;
use crate::{MediaError, Offer};

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
    /// The media state of recorded tracks the participant publishes changed (only to participants
    /// that asked for media warnings).
    Warnings(Vec<(TrackSid, crate::warnings::MediaState)>),
}

/// What the core asks its driver to do.
#[derive(Debug)]
pub enum CoreOutput {
    /// Send `data` to `destination`.
    Transmit {
        /// Over UDP (our socket), or TCP (the connection `destination` opened to us).
        proto: Protocol,
        /// Where.
        destination: SocketAddr,
        /// What.
        data: Vec<u8>,
    },
    /// Tell a participant's session.
    Signal(ParticipantSid, Signal),
    /// Write to a recording's file.
    Record(RecordIo),
}

/// What a session that resumes after a signaling reconnection must re-establish.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeState {
    /// Each peer connection.
    pub pcs: Vec<PcState>,
    /// The tracks the participant receives, with the id each arrives under.
    pub subscribed: Vec<(TrackSid, String)>,
    /// The last media state told of each track it was ever warned about.
    pub warnings: Vec<(TrackSid, crate::warnings::MediaState)>,
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
    /// Our TCP listener as announced in ICE candidates (`tcptype passive`), if media over TCP is on.
    pub tcp_addr: Option<SocketAddr>,
    /// Crypto for DTLS.
    pub crypto: Arc<CryptoProvider>,
    /// Most bits per second of video sent to any one subscriber (`None`: no limit).
    pub max_subscriber_bitrate: Option<u64>,
    /// How long a recorded track may bring no media before a publisher that asked is warned
    /// ([`crate::RECORDING_MEDIA_TIMEOUT`], Twilio's 30 s; tests shorten it).
    pub recording_media_timeout: Duration,
}

pub(crate) enum Propagate {
    /// A publisher's RTP packet, for the subscribers of its track.
    Rtp(Box<Forwarded>),
    /// A subscriber asked for a keyframe of the layer it receives.
    Keyframe {
        publisher: ParticipantSid,
        track: String,
        layer: Option<usize>,
        kind: KeyframeRequestKind,
    },
    Data {
        publisher: ParticipantSid,
        track: String,
        binary: bool,
        data: Vec<u8>,
    },
    /// A publisher's data channel opened at the server: its subscribers can be offered it.
    DataReady {
        publisher: ParticipantSid,
        track: String,
    },
    /// One of the media signaling channels the server opened is open.
    MspOpened {
        participant: ParticipantSid,
        pc: String,
        channel: ChannelId,
    },
    /// A client's message on a media signaling channel.
    Msp {
        participant: ParticipantSid,
        pc: String,
        data: Vec<u8>,
    },
}

/// The media server core.
pub struct SfuCore {
    pub(crate) config: CoreConfig,
    pub(crate) peers: Vec<Peer>,
    /// Subscriptions of participants that have no peer connection yet.
    waiting: Vec<(ParticipantSid, Vec<Subscription>)>,
    pub(crate) out: VecDeque<CoreOutput>,
    pub(crate) work: VecDeque<Propagate>,
    /// Who receives each published track: (publisher, client track id) → (peer, outgoing track)
    /// indices. Rebuilt when `routes_stale` (peers or subscriptions changed).
    pub(crate) routes: HashMap<ParticipantSid, HashMap<String, Vec<(usize, usize)>>>,
    pub(crate) routes_stale: bool,
    /// The peer connection each remote address was last seen on (indices, cleared when peers are
    /// removed), so a datagram does not have to be offered to every connection.
    by_source: HashMap<(Protocol, SocketAddr), usize>,
    /// What the peer connections carried, from their stats reports.
    stats: crate::stats::StatsBook,
    /// What each participant's client asked for in `connect` (channels, bandwidth profile).
    pub(crate) options: HashMap<ParticipantSid, crate::msp::MediaOptions>,
    /// The dominant speaker of each room.
    pub(crate) speakers: HashMap<RoomSid, crate::speaker::SpeakerDetector>,
    /// The SID of each published track, by (publisher, client track id), as subscriptions showed.
    pub(crate) track_sids: HashMap<(ParticipantSid, String), TrackSid>,
    /// The last publisher hint message id.
    pub(crate) hint_id: u64,
    /// The recordings in progress, by publisher and client track id.
    pub(crate) recorders: HashMap<ParticipantSid, HashMap<String, crate::record::TrackRecorder>>,
    /// The media warnings each publisher was told (`warnings.rs`).
    pub(crate) told: crate::warnings::Told,
    /// When adaptation next runs.
    pub(crate) next_tick: Option<Instant>,
    /// The peers due for a timeout, on a 4 ms grid (`timers.rs`).
    pub(crate) timers: crate::timers::Timers,
    /// The peers being served, kept for its allocation.
    pub(crate) taken: Vec<usize>,
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
            routes: HashMap::new(),
            routes_stale: false,
            by_source: HashMap::new(),
            stats: crate::stats::StatsBook::default(),
            options: HashMap::new(),
            speakers: HashMap::new(),
            track_sids: HashMap::new(),
            hint_id: 0,
            recorders: HashMap::new(),
            told: HashMap::new(),
            next_tick: None,
            timers: crate::timers::Timers::default(),
            taken: Vec::new(),
        }
    }

    /// Peers were added or removed, or what they send changed.
    fn peers_changed(&mut self) {
        self.routes_stale = true;
        self.by_source.clear();
        self.reindex_timers();
    }

    fn find(&self, participant: ParticipantSid, pc: &str) -> Option<usize> {
        self.peers
            .iter()
            .position(|p| p.participant == participant && p.pc == pc)
    }

    fn new_rtc(
        &self,
        participant: ParticipantSid,
        codecs: &[VideoCodec],
        now: Instant,
    ) -> Result<Rtc, MediaError> {
        let mut config = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .set_stats_interval(Some(crate::stats::STATS_INTERVAL))
            .set_crypto_provider(Arc::clone(&self.config.crypto))
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(codecs.contains(&VideoCodec::Vp8))
            .enable_h264(codecs.contains(&VideoCodec::H264));
        if codecs.is_empty() {
            config = config.enable_vp8(true);
        }
        // A client with a bandwidth profile has its downstream estimated (TWCC), and what it
        // receives follows the estimate.
        if self.estimates(participant) {
            config = config.enable_bwe(Some(crate::adapt::INITIAL_ESTIMATE));
        }
        let mut rtc = config.build(now);
        let candidate = Candidate::host(self.config.public_addr, "udp")
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        // ICE-TCP for clients whose UDP is blocked: they connect to us (RFC 6544 passive). Its
        // priority is below the UDP candidate's, so clients that can use UDP keep using it.
        if let Some(addr) = self.config.tcp_addr {
            let candidate = Candidate::builder()
                .tcp()
                .host(addr)
                .tcptype(TcpType::Passive)
                .build()
                .map_err(|e| MediaError::Internal(e.to_string()))?;
            rtc.add_local_candidate(candidate);
        }
        Ok(rtc)
    }

    /// Whether the participant's downstream is estimated (its client has a bandwidth profile), so
    /// str0m paces what is sent to it.
    fn estimates(&self, participant: ParticipantSid) -> bool {
        self.options
            .get(&participant)
            .is_some_and(|o| o.profile.is_some())
    }

    /// The client's offer on peer connection `pc` (creating it on first use). Returns the answer,
    /// or `None` when the offer is ignored (stale, or crossing an offer of ours).
    ///
    /// # Errors
    /// When the offer cannot be applied.
    pub fn offer(&mut self, now: Instant, offer: &Offer) -> Result<Option<String>, MediaError> {
        let (participant, room, revision) = (offer.participant, offer.room, offer.revision);
        let (codecs, pc, sdp) = (&offer.codecs[..], offer.pc.as_str(), offer.sdp.as_str());
        let i = match self.find(participant, pc) {
            Some(i) => i,
            None => {
                let rtc = self.new_rtc(participant, codecs, now)?;
                let mut peer = Peer::new(participant, room, pc.to_owned(), rtc, now);
                peer.paced = self.estimates(participant);
                peer.msp = self.msp_for_new_peer(participant);
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
                let i = self.peers.len() - 1;
                self.mark_data_ready(i);
                i
            }
        };
        let answer = self.peers[i].accept_offer(revision, sdp)?;
        self.peers_changed();
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
        // Newly opened m-lines start on the next keyframe of what they carry (their forwarders ask
        // for it with the first packet).
        self.peers[i].accept_answer(revision, sdp)?;
        self.peers_changed();
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
            self.peers_changed();
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
        self.options.remove(&participant);
        self.told.remove(&participant);
        self.track_sids.retain(|(p, _), _| *p != participant);
        for s in self.speakers.values_mut() {
            s.remove(participant);
        }
        self.speakers
            .retain(|room, _| self.peers.iter().any(|p| p.room == *room));
        self.shrink_if_sparse();
        self.peers_changed();
    }

    /// Gives back the room of the participant maps and lists once most of it stands empty: a map
    /// keeps the capacity it grew to, so after 2,000 participants left the core held their slots
    /// (about 0.5 MB over two workers) until the next wave reused them.
    fn shrink_if_sparse(&mut self) {
        shrink_map(&mut self.options);
        shrink_map(&mut self.told);
        shrink_map(&mut self.track_sids);
        shrink_map(&mut self.speakers);
        shrink_map(&mut self.routes);
        shrink_map(&mut self.by_source);
        shrink_vec(&mut self.peers);
        shrink_vec(&mut self.waiting);
    }

    /// The full list of tracks `participant` should receive.
    pub fn set_subscriptions(
        &mut self,
        now: Instant,
        participant: ParticipantSid,
        subs: &[Subscription],
    ) {
        for s in subs {
            self.track_sids
                .insert((s.publisher, s.publisher_track_id.clone()), s.track);
        }
        let mine: Vec<usize> = (0..self.peers.len())
            .filter(|i| self.peers[*i].participant == participant)
            .collect();
        if mine.is_empty() {
            self.waiting.retain(|(p, _)| *p != participant);
            self.waiting.push((participant, subs.to_vec()));
            return;
        }
        self.routes_stale = true;
        for i in mine {
            self.peers[i].set_subscriptions(subs);
            self.mark_data_ready(i);
            self.announce(i);
            self.drain(i, now);
        }
        self.propagate(now);
    }

    /// Data tracks of peer `i` whose publisher's channel is already open become ready to offer.
    fn mark_data_ready(&mut self, i: usize) {
        let open: Vec<(ParticipantSid, String)> = self
            .peers
            .iter()
            .flat_map(|p| p.channels_in.values().map(|l| (p.participant, l.clone())))
            .collect();
        for t in &mut self.peers[i].outgoing {
            if !t.ready
                && open
                    .iter()
                    .any(|(p, l)| *p == t.sub.publisher && *l == t.sub.publisher_track_id)
            {
                t.ready = true;
            }
        }
    }

    /// Tells peer `i`'s client what it now receives: an offer comes with the list; without one (an
    /// offer of ours is still pending, or a data channel needed none) the client gets the list now
    /// and any m-lines with the next offer.
    fn announce(&mut self, i: usize) {
        if !self.renegotiate(i) {
            let peer = &self.peers[i];
            self.out.push_back(CoreOutput::Signal(
                peer.participant,
                Signal::Subscribed(peer.subscribed()),
            ));
        }
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

    /// What a resuming session must re-establish: each peer connection and any unanswered offer,
    /// the subscriptions, the media warnings.
    #[must_use]
    pub fn state(&self, participant: ParticipantSid) -> ResumeState {
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
        ResumeState {
            pcs,
            subscribed,
            warnings: self.warnings_told(participant),
        }
    }

    /// A datagram arrived on our UDP socket.
    pub fn receive(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.receive_on(now, Protocol::Udp, source, data);
    }

    /// A packet (one RFC 4571 frame) arrived on the TCP connection from `source`.
    pub fn receive_tcp(&mut self, now: Instant, source: SocketAddr, data: &[u8]) {
        self.receive_on(now, Protocol::Tcp, source, data);
    }

    fn receive_on(&mut self, now: Instant, proto: Protocol, source: SocketAddr, data: &[u8]) {
        let destination = match proto {
            Protocol::Tcp => match self.config.tcp_addr {
                Some(a) => a,
                None => return,
            },
            _ => self.config.public_addr,
        };
        let Ok(contents) = data.try_into() else {
            return;
        };
        let input = Input::Receive(
            now,
            Receive {
                proto,
                source,
                destination,
                contents,
            },
        );
        let cached = self
            .by_source
            .get(&(proto, source))
            .copied()
            .filter(|i| self.peers.get(*i).is_some_and(|p| p.rtc.accepts(&input)));
        let Some(i) = cached.or_else(|| self.peers.iter().position(|p| p.rtc.accepts(&input)))
        else {
            tracing::trace!(%source, "a datagram no peer connection accepts");
            return;
        };
        self.by_source.insert((proto, source), i);
        if let Err(e) = self.peers[i].rtc.handle_input(input) {
            tracing::debug!(error = %e, "peer connection failed on input");
            self.peers[i].rtc.disconnect();
        }
        self.drain(i, now);
        self.propagate(now);
    }

    /// What the media server carries now and carried since it started.
    pub fn stats(&mut self, now: Instant) -> MediaStats {
        let (streams_in, streams_out, received, sent) = self.stats.snapshot(now);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        MediaStats {
            peer_connections: count(self.peers.len()),
            connected_peer_connections: count(
                self.peers.iter().filter(|p| p.rtc.is_connected()).count(),
            ),
            tcp_connections: 0,
            streams_in,
            streams_out,
            received,
            sent,
        }
    }

    /// The next thing for the driver to do.
    pub fn poll_output(&mut self) -> Option<CoreOutput> {
        self.out.pop_front()
    }

    pub(crate) fn on_event(&mut self, i: usize, event: Event, now: Instant) {
        let peer = &mut self.peers[i];
        match event {
            Event::RtpPacket(packet) => {
                if let Some(forwarded) = crate::rtp::ingress(peer, i, packet, now) {
                    self.work.push_back(Propagate::Rtp(Box::new(forwarded)));
                }
            }
            Event::StreamPaused(paused) => crate::rtp::paused(peer, &paused),
            Event::KeyframeRequest(req) => {
                if let Some(t) = peer.outgoing.iter().find(|t| t.mid == Some(req.mid)) {
                    self.work.push_back(Propagate::Keyframe {
                        publisher: t.sub.publisher,
                        track: t.sub.publisher_track_id.clone(),
                        layer: t.fwd.current_layer(),
                        kind: req.kind,
                    });
                }
            }
            // A channel the client opened (ours are those of its subscriptions).
            Event::ChannelOpen(cid, _) if peer.msp.iter().any(|m| m.id == Some(cid)) => {
                self.work.push_back(Propagate::MspOpened {
                    participant: peer.participant,
                    pc: peer.pc.clone(),
                    channel: cid,
                });
            }
            Event::ChannelData(d) if peer.msp.iter().any(|m| m.id == Some(d.id)) => {
                self.work.push_back(Propagate::Msp {
                    participant: peer.participant,
                    pc: peer.pc.clone(),
                    data: d.data,
                });
            }
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
                        self.work.push_back(Propagate::DataReady {
                            publisher: peer.participant,
                            track: label.clone(),
                        });
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
            Event::MediaIngressStats(s) => {
                if let Some(loss) = s.loss {
                    // What the SFU sees of the client's uplink, smoothed over reports.
                    let loss = f64::from(loss);
                    let old = peer.link.uplink_loss.unwrap_or(loss);
                    peer.link.uplink_loss = Some(old * 0.7 + loss * 0.3);
                }
                self.stats.ingress(peer.participant, &peer.pc, &s, now);
            }
            Event::EgressBitrateEstimate(
                str0m::bwe::BweKind::Twcc {
                    estimate: bitrate, ..
                }
                | str0m::bwe::BweKind::Remb {
                    estimate: bitrate, ..
                },
            ) => {
                peer.link.estimate = Some(bitrate.as_u64());
            }
            Event::MediaEgressStats(s) => {
                self.stats.egress(peer.participant, &peer.pc, &s, now);
            }
            Event::Connected => {
                tracing::debug!(room = %peer.room, participant = %peer.participant, pc = %peer.pc, "media connected");
                // Nothing sent before reached the client: every track starts on a keyframe again.
                for t in &mut peer.outgoing {
                    t.fwd.restart();
                }
            }
            _ => {}
        }
    }

    /// Carries out propagation work until none is left.
    pub(crate) fn propagate(&mut self, now: Instant) {
        while let Some(work) = self.work.pop_front() {
            match work {
                Propagate::Rtp(forwarded) => self.forward_rtp(&forwarded, now),
                Propagate::MspOpened {
                    participant,
                    pc,
                    channel,
                } => {
                    if let Some(i) = self.find(participant, &pc) {
                        self.msp_opened(i, channel, now);
                    }
                }
                Propagate::Msp {
                    participant,
                    pc,
                    data,
                } => {
                    if let Some(i) = self.find(participant, &pc) {
                        self.on_msp(i, &data, now);
                    }
                }
                Propagate::DataReady { publisher, track } => {
                    for j in 0..self.peers.len() {
                        let mut changed = false;
                        for t in &mut self.peers[j].outgoing {
                            if !t.ready
                                && t.sub.publisher == publisher
                                && t.sub.publisher_track_id == track
                            {
                                t.ready = true;
                                changed = true;
                            }
                        }
                        if changed {
                            self.announce(j);
                            self.drain(j, now);
                        }
                    }
                }
                Propagate::Keyframe {
                    publisher,
                    track,
                    layer,
                    kind,
                } => self.ask_keyframe(publisher, &track, layer, kind, now),
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
}

#[cfg(test)]
mod tests;
