//! The harness of the SFU's in-process tests: the media core with several str0m peers on a simulated
//! network and a simulated clock. Clients offer first (as twilio-video.js does), the server answers,
//! then offers each subscriber the tracks it receives.

#![allow(dead_code)] // each test binary uses part of it

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, Input, Output, Rtc};
use vroom_domain::live::Subscription;
use vroom_domain::room::VideoCodec;
use vroom_domain::sid::{ParticipantSid, RoomSid, TrackSid};
use vroom_domain::time::Timestamp;
use vroom_domain::track::TrackKind;
use vroom_sfu::{CoreConfig, CoreOutput, SfuCore, Signal};

pub const SERVER: &str = "10.0.0.1:5000";
pub const ROOM: RoomSid = RoomSid::from_bytes([1; 16]);

pub fn crypto() -> Arc<str0m::crypto::CryptoProvider> {
    Arc::new(str0m::crypto::from_feature_flags())
}

/// A browser-like peer: a full-ICE str0m instance with one peer connection to the server.
pub struct Client {
    pub sid: ParticipantSid,
    pub addr: SocketAddr,
    pub rtc: Rtc,
    pub pc: String,
    pub revision: u64,
    /// Media received: mid → frames.
    pub received: HashMap<Mid, usize>,
    /// Video frames received as (mid, media time in 90 kHz ticks, contiguous).
    pub frames: Vec<(Mid, u64, bool)>,
    /// The size of each video frame received, by m-line.
    pub sizes: Vec<(Mid, usize)>,
    /// Channel messages received, by channel label.
    pub messages: Vec<(String, Vec<u8>)>,
    pub labels: HashMap<ChannelId, String>,
    pub keyframe_requests: usize,
    /// m-lines the server added (Event::MediaAdded on the client).
    pub added: Vec<Mid>,
    /// Datagrams this client sent the server.
    pub sent: usize,
    pub timeout: Instant,
}

impl Client {
    pub fn new(n: u8, now: Instant) -> Self {
        let addr: SocketAddr = format!("10.0.0.{}:6000", 10 + n).parse().unwrap();
        let mut rtc = Rtc::builder().set_crypto_provider(crypto()).build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        Self {
            sid: ParticipantSid::from_bytes([n; 16]),
            addr,
            rtc,
            pc: format!("pc-{n}"),
            revision: 0,
            received: HashMap::new(),
            frames: Vec::new(),
            sizes: Vec::new(),
            messages: Vec::new(),
            labels: HashMap::new(),
            keyframe_requests: 0,
            added: Vec::new(),
            sent: 0,
            timeout: now,
        }
    }

    /// An offer adding one sending m-line for track `id`, as publishing a track does.
    pub fn offer_track(&mut self, kind: MediaKind, id: &str) -> (Mid, SdpOffer, SdpPendingOffer) {
        let mut change = self.rtc.sdp_api();
        let mid = change.add_media(
            kind,
            Direction::SendRecv,
            Some("-".into()),
            Some(id.to_owned()),
            None,
        );
        let (offer, pending) = change.apply().expect("an offer");
        (mid, offer, pending)
    }

    /// A datagram from the server arrives.
    fn receive_from_server(&mut self, now: Instant, data: &[u8]) {
        let input = Input::Receive(
            now,
            Receive {
                proto: Protocol::Udp,
                source: SERVER.parse().unwrap(),
                destination: self.addr,
                contents: data.try_into().unwrap(),
            },
        );
        self.rtc.handle_input(input).unwrap();
    }

    pub fn accept_answer(&mut self, pending: SdpPendingOffer, answer: &str) {
        self.rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(answer).unwrap())
            .unwrap();
    }
}

pub struct Net {
    pub now: Instant,
    pub core: SfuCore,
    pub clients: Vec<Client>,
    pub signals: Vec<(ParticipantSid, Signal)>,
    /// What the core asked of the recordings' writer.
    pub records: Vec<vroom_sfu::RecordIo>,
    /// Drop this many of the next large RTP datagrams the server sends to this address (a lost
    /// video packet on the way to a subscriber).
    pub drop_to: Option<(SocketAddr, usize)>,
    /// Rewrites a client's offer before the server sees it (the SDP munging twilio-video.js does).
    pub munge: Option<fn(&str) -> String>,
    /// Bottlenecks on the way from the server to some clients.
    pub links: HashMap<SocketAddr, Link>,
    /// How far `run` moves time in one step (10 ms; finer when pacing and estimates matter).
    pub step: Duration,
    /// The instants the core was given a timeout at (each counted once).
    pub wakes: Vec<Instant>,
}

/// A bottleneck of `rate` bits per second with a queue of at most `max_queue`: datagrams wait their
/// turn (queueing delay), and those that would wait longer are dropped.
pub struct Link {
    pub rate: u64,
    pub max_queue: Duration,
    busy_until: Option<Instant>,
    queue: std::collections::VecDeque<(Instant, Vec<u8>)>,
}

impl Link {
    pub fn new(rate: u64) -> Self {
        Self {
            rate,
            max_queue: Duration::from_millis(250),
            busy_until: None,
            queue: std::collections::VecDeque::new(),
        }
    }

    fn push(&mut self, now: Instant, data: Vec<u8>) {
        let start = self.busy_until.filter(|b| *b > now).unwrap_or(now);
        if start.saturating_duration_since(now) > self.max_queue {
            return;
        }
        #[allow(clippy::cast_precision_loss)]
        let transmit = Duration::from_secs_f64(data.len() as f64 * 8.0 / self.rate as f64);
        let done = start + transmit;
        self.busy_until = Some(done);
        self.queue.push_back((done, data));
    }
}

/// Whether a datagram is RTP (not RTCP, DTLS or STUN) and bigger than `min` bytes.
/// The rids `connect_simulcast` sends, lowest layer first.
pub const SIMULCAST_RIDS: [&str; 3] = ["q", "h", "f"];

pub fn is_rtp(data: &[u8], min: usize) -> bool {
    data.len() > min && data[0] >> 6 == 2 && !(192..=223).contains(&data[1])
}

impl Net {
    pub fn new(n: usize) -> Self {
        Self::with_cap(n, None)
    }

    /// `n` clients and a server that sends each subscriber at most `cap` bits per second of video.
    pub fn with_cap(n: usize, cap: Option<u64>) -> Self {
        let now = Instant::now();
        let core = SfuCore::new(CoreConfig {
            public_addr: SERVER.parse().unwrap(),
            tcp_addr: None,
            crypto: crypto(),
            max_subscriber_bitrate: cap,
            recording_media_timeout: vroom_sfu::RECORDING_MEDIA_TIMEOUT,
        });
        let clients = (1..=n)
            .map(|i| Client::new(u8::try_from(i).unwrap(), now))
            .collect();
        Self {
            now,
            core,
            clients,
            signals: Vec::new(),
            records: Vec::new(),
            drop_to: None,
            munge: None,
            links: HashMap::new(),
            step: Duration::from_millis(10),
            wakes: Vec::new(),
        }
    }

    /// Client `c`'s offer at `revision`, as the server takes it from signaling: its answer, if any.
    pub fn client_offer(&mut self, c: usize, revision: u64, sdp: &str) -> Option<String> {
        let client = &self.clients[c];
        let sdp = self.munge.map_or_else(|| sdp.to_owned(), |m| m(sdp));
        let offer = vroom_sfu::Offer {
            participant: client.sid,
            room: ROOM,
            codecs: vec![VideoCodec::Vp8],
            pc: client.pc.clone(),
            revision,
            sdp,
        };
        self.core
            .offer(self.now, &offer)
            .expect("the server takes the offer")
    }

    /// The client's first offer with one sending m-line per track, plus receive-only audio and video
    /// (as twilio-video.js's offerToReceiveAudio/Video), answered by the server.
    pub fn connect(&mut self, c: usize, tracks: &[(MediaKind, &str)]) -> Vec<Mid> {
        self.first_offer(c, |change| {
            tracks
                .iter()
                .map(|(kind, id)| {
                    change.add_media(
                        *kind,
                        Direction::SendRecv,
                        Some("-".into()),
                        Some((*id).to_owned()),
                        None,
                    )
                })
                .collect()
        })
    }

    /// The client's first offer with the m-lines `add` makes plus receive-only audio and video,
    /// answered by the server; returns what `add` returned.
    fn first_offer(
        &mut self,
        c: usize,
        add: impl FnOnce(&mut str0m::change::SdpApi<'_>) -> Vec<Mid>,
    ) -> Vec<Mid> {
        let client = &mut self.clients[c];
        let mut change = client.rtc.sdp_api();
        let mids = add(&mut change);
        change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
        change.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
        let (offer, pending) = change.apply().expect("an offer");
        client.revision += 1;
        let revision = client.revision;
        let answer = self
            .client_offer(c, revision, &offer.to_sdp_string())
            .expect("the server answers the offer");
        assert!(answer.contains("a=ice-lite"), "the server is ICE-lite");
        assert!(
            !answer.contains("\n")
                || answer
                    .split('\n')
                    .all(|l| l.is_empty() || l.ends_with('\r')),
            "CRLF"
        );
        self.clients[c].accept_answer(pending, &answer);
        mids
    }

    /// Answers every server offer the way twilio-video.js does (same revision).
    pub fn answer_offers(&mut self) {
        let signals = std::mem::take(&mut self.signals);
        for (p, s) in signals {
            if let Signal::Offer { pc, revision, sdp } = &s {
                let c = self.clients.iter().position(|c| c.sid == p).unwrap();
                assert_eq!(*pc, self.clients[c].pc);
                assert!(
                    *revision > self.clients[c].revision,
                    "server offers only move the revision forward"
                );
                let answer = self.clients[c]
                    .rtc
                    .sdp_api()
                    .accept_offer(SdpOffer::from_sdp_string(sdp).unwrap())
                    .unwrap();
                self.clients[c].revision = *revision;
                self.core
                    .answer(self.now, p, pc, *revision, &answer.to_sdp_string())
                    .unwrap();
            } else {
                self.signals.push((p, s));
            }
        }
    }

    pub fn deliver(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            let now = self.now;
            for (to, link) in &mut self.links {
                while link.queue.front().is_some_and(|(at, _)| *at <= now) {
                    let (_, data) = link.queue.pop_front().unwrap();
                    moved = true;
                    if let Some(c) = self.clients.iter_mut().find(|c| c.addr == *to) {
                        c.receive_from_server(now, &data);
                    }
                }
            }
            // Like the media worker: the core gets a timeout only when it asks for one.
            moved |= self.core_timeout();
            while let Some(out) = self.core.poll_output() {
                moved = true;
                match out {
                    CoreOutput::Transmit {
                        destination, data, ..
                    } => {
                        if let Some((to, n)) = &mut self.drop_to
                            && *to == destination
                            && *n > 0
                            && is_rtp(&data, 300)
                        {
                            *n -= 1;
                            continue;
                        }
                        if let Some(link) = self.links.get_mut(&destination) {
                            link.push(self.now, data);
                            continue;
                        }
                        let Some(c) = self.clients.iter_mut().find(|c| c.addr == destination)
                        else {
                            continue;
                        };
                        c.receive_from_server(self.now, &data);
                    }
                    CoreOutput::Signal(p, s) => self.signals.push((p, s)),
                    CoreOutput::Record(io) => self.records.push(io),
                }
            }
            for c in &mut self.clients {
                loop {
                    match c.rtc.poll_output().unwrap() {
                        Output::Timeout(t) => {
                            c.timeout = t;
                            break;
                        }
                        Output::Transmit(t) => {
                            moved = true;
                            c.sent += 1;
                            self.core.receive(self.now, t.source, &t.contents);
                        }
                        Output::Event(e) => match e {
                            Event::MediaData(d) => {
                                *c.received.entry(d.mid).or_default() += 1;
                                if d.params.spec().codec == str0m::format::Codec::Vp8 {
                                    c.sizes.push((d.mid, d.data.len()));
                                    c.frames.push((
                                        d.mid,
                                        d.time.rebase(Frequency::NINETY_KHZ).numer(),
                                        d.contiguous,
                                    ));
                                }
                            }
                            Event::ChannelOpen(id, label) => {
                                c.labels.insert(id, label);
                            }
                            Event::ChannelData(d) => {
                                let label = c.labels.get(&d.id).cloned().unwrap_or_default();
                                c.messages.push((label, d.data));
                            }
                            Event::KeyframeRequest(_) => c.keyframe_requests += 1,
                            Event::MediaAdded(m) => c.added.push(m.mid),
                            _ => {}
                        },
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// The core's timeout, if it asked for one by now (as the media worker does); whether it had.
    fn core_timeout(&mut self) -> bool {
        let due = self.core.next_timeout().is_some_and(|t| t <= self.now);
        if due {
            self.core.handle_timeout(self.now);
            if self.wakes.last() != Some(&self.now) {
                self.wakes.push(self.now);
            }
        }
        due
    }

    /// Moves time forward in `step`s, delivering everything on the way.
    pub fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now += self.step;
            for c in &mut self.clients {
                c.rtc.handle_input(Input::Timeout(self.now)).unwrap();
            }
            self.core_timeout();
            self.deliver();
            self.answer_offers();
            self.deliver();
        }
    }

    /// Video frame `n` (30 per second) of about 2.4 kB, three packets: a keyframe when `key` (a VP8
    /// frame header's P bit is 0 for keyframes).
    pub fn send_video(&mut self, c: usize, mid: Mid, n: u64, key: bool) {
        let client = &mut self.clients[c];
        let writer = client.rtc.writer(mid).expect("a writer");
        let pt = writer
            .payload_params()
            .find(|p| p.spec().codec == str0m::format::Codec::Vp8)
            .unwrap()
            .pt();
        let mut frame = vec![0x5a_u8; 2400];
        frame[0] = if key { 0x10 } else { 0x11 };
        let time = MediaTime::from_90khz(n * 3000);
        writer.write(pt, self.now, time, frame).unwrap();
    }

    /// The client's first offer with one video m-line sending three simulcast layers (rids q, h,
    /// f), plus receive-only audio and video, answered by the server.
    pub fn connect_simulcast(&mut self, c: usize, id: &str) -> Mid {
        let mut layers = str0m::media::Simulcast::new();
        for rid in SIMULCAST_RIDS {
            layers.add_send_layer(str0m::media::SimulcastLayer::new(rid));
        }
        self.first_offer(c, |change| {
            vec![change.add_media(
                MediaKind::Video,
                Direction::SendRecv,
                Some("-".into()),
                Some(id.to_owned()),
                Some(layers),
            )]
        })[0]
    }

    /// Video frame `n` in each simulcast layer: 600, 1200 and 2400 bytes, keyframes (when `key`)
    /// announcing 320x180, 640x360 and 1280x720.
    pub fn send_video_layers(&mut self, c: usize, mid: Mid, n: u64, key: bool) {
        let client = &mut self.clients[c];
        for (k, rid) in SIMULCAST_RIDS.iter().enumerate() {
            let writer = client.rtc.writer(mid).expect("a writer");
            let pt = writer
                .payload_params()
                .find(|p| p.spec().codec == str0m::format::Codec::Vp8)
                .unwrap()
                .pt();
            let scale = 1u16 << k;
            let mut frame = vec![0x5a_u8; 600 << k];
            frame[0] = if key { 0x10 } else { 0x11 };
            if key {
                frame[3..6].copy_from_slice(&[0x9d, 0x01, 0x2a]);
                frame[6..8].copy_from_slice(&(320 * scale).to_le_bytes());
                frame[8..10].copy_from_slice(&(180 * scale).to_le_bytes());
            }
            let time = MediaTime::from_90khz(n * 3000);
            writer
                .rid((*rid).into())
                .write(pt, self.now, time, frame)
                .unwrap();
        }
    }

    /// Sends video frames `from..to` every 33 ms, a keyframe at `from` when `key_first`.
    pub fn stream_video(&mut self, c: usize, mid: Mid, from: u64, to: u64, key_first: bool) {
        for n in from..to {
            self.send_video(c, mid, n, key_first && n == from);
            self.run(Duration::from_millis(33));
        }
    }

    pub fn send_audio(&mut self, c: usize, mid: Mid, n: u64) {
        let client = &mut self.clients[c];
        let writer = client.rtc.writer(mid).expect("a writer");
        let pt = writer.payload_params().next().unwrap().pt();
        let time = MediaTime::from_90khz(n * 960);
        writer.write(pt, self.now, time, vec![0xfc; 40]).unwrap();
    }
}

pub fn sub(track: u8, publisher: &Client, client_track: &str, kind: TrackKind) -> Subscription {
    Subscription {
        track: TrackSid::from_bytes([track; 16]),
        publisher: publisher.sid,
        publisher_track_id: client_track.to_owned(),
        kind,
        name: client_track.to_owned(),
        enabled: true,
        priority: vroom_domain::track::TrackPriority::Standard,
        since: Timestamp::from_secs(0),
    }
}
