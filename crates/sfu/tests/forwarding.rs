//! The media core with several in-process peers, on a simulated network and a simulated clock:
//! clients offer first (as twilio-video.js does), the server answers, then offers each subscriber the
//! tracks it receives; media, keyframe requests and data channel messages are forwarded.

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

const SERVER: &str = "10.0.0.1:5000";
const ROOM: RoomSid = RoomSid::from_bytes([1; 16]);

fn crypto() -> Arc<str0m::crypto::CryptoProvider> {
    Arc::new(str0m::crypto::from_feature_flags())
}

/// A browser-like peer: a full-ICE str0m instance with one peer connection to the server.
struct Client {
    sid: ParticipantSid,
    addr: SocketAddr,
    rtc: Rtc,
    pc: String,
    revision: u64,
    /// Media received: mid → frames.
    received: HashMap<Mid, usize>,
    /// Video frames received as (mid, media time in 90 kHz ticks, contiguous).
    frames: Vec<(Mid, u64, bool)>,
    /// Channel messages received, by channel label.
    messages: Vec<(String, Vec<u8>)>,
    labels: HashMap<ChannelId, String>,
    keyframe_requests: usize,
    /// m-lines the server added (Event::MediaAdded on the client).
    added: Vec<Mid>,
    timeout: Instant,
}

impl Client {
    fn new(n: u8, now: Instant) -> Self {
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
            messages: Vec::new(),
            labels: HashMap::new(),
            keyframe_requests: 0,
            added: Vec::new(),
            timeout: now,
        }
    }

    /// An offer adding one sending m-line for track `id`, as publishing a track does.
    fn offer_track(&mut self, kind: MediaKind, id: &str) -> (Mid, SdpOffer, SdpPendingOffer) {
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

    fn accept_answer(&mut self, pending: SdpPendingOffer, answer: &str) {
        self.rtc
            .sdp_api()
            .accept_answer(pending, SdpAnswer::from_sdp_string(answer).unwrap())
            .unwrap();
    }
}

struct Net {
    now: Instant,
    core: SfuCore,
    clients: Vec<Client>,
    signals: Vec<(ParticipantSid, Signal)>,
    /// Drop this many of the next large RTP datagrams the server sends to this address (a lost
    /// video packet on the way to a subscriber).
    drop_to: Option<(SocketAddr, usize)>,
    /// Rewrites a client's offer before the server sees it (the SDP munging twilio-video.js does).
    munge: Option<fn(&str) -> String>,
}

/// Whether a datagram is RTP (not RTCP, DTLS or STUN) and bigger than `min` bytes.
fn is_rtp(data: &[u8], min: usize) -> bool {
    data.len() > min && data[0] >> 6 == 2 && !(192..=223).contains(&data[1])
}

impl Net {
    fn new(n: usize) -> Self {
        let now = Instant::now();
        let core = SfuCore::new(CoreConfig {
            public_addr: SERVER.parse().unwrap(),
            crypto: crypto(),
        });
        let clients = (1..=n)
            .map(|i| Client::new(u8::try_from(i).unwrap(), now))
            .collect();
        Self {
            now,
            core,
            clients,
            signals: Vec::new(),
            drop_to: None,
            munge: None,
        }
    }

    /// Client `c`'s offer at `revision`, as the server takes it from signaling: its answer, if any.
    fn client_offer(&mut self, c: usize, revision: u64, sdp: &str) -> Option<String> {
        let client = &self.clients[c];
        let sdp = self.munge.map_or_else(|| sdp.to_owned(), |m| m(sdp));
        self.core
            .offer(
                self.now,
                client.sid,
                ROOM,
                &[VideoCodec::Vp8],
                &client.pc,
                revision,
                &sdp,
            )
            .expect("the server takes the offer")
    }

    /// The client's first offer with one sending m-line per track, plus receive-only audio and video
    /// (as twilio-video.js's offerToReceiveAudio/Video), answered by the server.
    fn connect(&mut self, c: usize, tracks: &[(MediaKind, &str)]) -> Vec<Mid> {
        let client = &mut self.clients[c];
        let mut change = client.rtc.sdp_api();
        let mids: Vec<Mid> = tracks
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
            .collect();
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
    fn answer_offers(&mut self) {
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

    fn deliver(&mut self) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(out) = self.core.poll_output() {
                moved = true;
                match out {
                    CoreOutput::Transmit { destination, data } => {
                        if let Some((to, n)) = &mut self.drop_to
                            && *to == destination
                            && *n > 0
                            && is_rtp(&data, 300)
                        {
                            *n -= 1;
                            continue;
                        }
                        let Some(c) = self.clients.iter_mut().find(|c| c.addr == destination)
                        else {
                            continue;
                        };
                        let input = Input::Receive(
                            self.now,
                            Receive {
                                proto: Protocol::Udp,
                                source: SERVER.parse().unwrap(),
                                destination,
                                contents: data.as_slice().try_into().unwrap(),
                            },
                        );
                        c.rtc.handle_input(input).unwrap();
                    }
                    CoreOutput::Signal(p, s) => self.signals.push((p, s)),
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
                            self.core.receive(self.now, t.source, &t.contents);
                        }
                        Output::Event(e) => match e {
                            Event::MediaData(d) => {
                                *c.received.entry(d.mid).or_default() += 1;
                                if d.params.spec().codec == str0m::format::Codec::Vp8 {
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

    /// Moves time forward in 10 ms steps, delivering everything on the way.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now += Duration::from_millis(10);
            for c in &mut self.clients {
                c.rtc.handle_input(Input::Timeout(self.now)).unwrap();
            }
            self.core.handle_timeout(self.now);
            self.deliver();
            self.answer_offers();
            self.deliver();
        }
    }

    /// Video frame `n` (30 per second) of about 2.4 kB, three packets: a keyframe when `key` (a VP8
    /// frame header's P bit is 0 for keyframes).
    fn send_video(&mut self, c: usize, mid: Mid, n: u64, key: bool) {
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

    /// Sends video frames `from..to` every 33 ms, a keyframe at `from` when `key_first`.
    fn stream_video(&mut self, c: usize, mid: Mid, from: u64, to: u64, key_first: bool) {
        for n in from..to {
            self.send_video(c, mid, n, key_first && n == from);
            self.run(Duration::from_millis(33));
        }
    }

    fn send_audio(&mut self, c: usize, mid: Mid, n: u64) {
        let client = &mut self.clients[c];
        let writer = client.rtc.writer(mid).expect("a writer");
        let pt = writer.payload_params().next().unwrap().pt();
        let time = MediaTime::from_90khz(n * 960);
        writer.write(pt, self.now, time, vec![0xfc; 40]).unwrap();
    }
}

fn sub(track: u8, publisher: &Client, client_track: &str, kind: TrackKind) -> Subscription {
    Subscription {
        track: TrackSid::from_bytes([track; 16]),
        publisher: publisher.sid,
        publisher_track_id: client_track.to_owned(),
        kind,
        name: client_track.to_owned(),
        enabled: true,
        since: Timestamp::from_secs(0),
    }
}

#[test]
fn audio_reaches_every_subscriber_on_the_m_line_announced_in_subscribed() {
    let mut net = Net::new(3);
    let a_mids = net.connect(0, &[(MediaKind::Audio, "alice-mic")]);
    net.connect(1, &[(MediaKind::Audio, "bob-mic")]);
    net.connect(2, &[(MediaKind::Audio, "carol-mic")]);
    net.run(Duration::from_millis(500));

    // Bob and Carol receive Alice's microphone.
    let alice_mic = sub(7, &net.clients[0], "alice-mic", TrackKind::Audio);
    for c in [1, 2] {
        let sid = net.clients[c].sid;
        net.core
            .set_subscriptions(net.now, sid, std::slice::from_ref(&alice_mic));
    }
    net.run(Duration::from_millis(500));
    let subscribed: Vec<_> = net
        .signals
        .iter()
        .filter_map(|(p, s)| match s {
            Signal::Subscribed(list) => Some((*p, list.clone())),
            Signal::Offer { .. } => None,
        })
        .collect();
    assert_eq!(subscribed.len(), 2);
    assert!(
        subscribed
            .iter()
            .all(|(_, l)| l == &vec![(alice_mic.track, alice_mic.track.to_string())])
    );

    for n in 0..50 {
        net.send_audio(0, a_mids[0], n);
        net.run(Duration::from_millis(20));
    }
    for c in [1, 2] {
        let got: usize = net.clients[c].received.values().sum();
        assert!(got >= 45, "client {c} received {got} of 50 audio frames");
    }
    assert_eq!(
        net.clients[0].received.values().sum::<usize>(),
        0,
        "nobody sends alice her own audio"
    );

    // Carol unsubscribes: the server stops her m-line and she stops receiving.
    let carol = net.clients[2].sid;
    net.core.set_subscriptions(net.now, carol, &[]);
    net.run(Duration::from_millis(300));
    let before = net.clients[2].received.values().sum::<usize>();
    for n in 50..70 {
        net.send_audio(0, a_mids[0], n);
        net.run(Duration::from_millis(20));
    }
    assert_eq!(
        net.clients[2].received.values().sum::<usize>(),
        before,
        "an excluded track is no longer forwarded"
    );
    assert!(net.clients[1].received.values().sum::<usize>() >= 60);
}

#[test]
fn video_starts_on_a_keyframe_and_subscriber_requests_reach_the_publisher() {
    let mut net = Net::new(2);
    let cam = net.connect(0, &[(MediaKind::Video, "alice-cam")])[0];
    net.connect(1, &[]);
    net.run(Duration::from_millis(300));
    net.stream_video(0, cam, 0, 5, true);
    let bob = net.clients[1].sid;
    let sub_cam = sub(9, &net.clients[0], "alice-cam", TrackKind::Video);
    net.core.set_subscriptions(net.now, bob, &[sub_cam]);
    net.run(Duration::from_millis(300));
    let before = net.clients[0].keyframe_requests;
    // Delta frames only: the new subscriber gets nothing yet, and the publisher is asked for a
    // keyframe.
    net.stream_video(0, cam, 5, 15, false);
    assert!(
        net.clients[0].keyframe_requests > before,
        "a new subscriber triggers a keyframe request to the publisher"
    );
    assert!(
        net.clients[1].frames.is_empty(),
        "no frame before a keyframe"
    );
    net.stream_video(0, cam, 15, 30, true);
    let got = net.clients[1].frames.len();
    assert!(
        got >= 14,
        "bob shows alice's camera from the keyframe on: {got} frames"
    );
    // Bob asks explicitly (PLI) on the m-line the server added for Alice's camera.
    net.run(Duration::from_millis(600));
    let asked = net.clients[0].keyframe_requests;
    let bob_mid = *net.clients[1]
        .added
        .last()
        .expect("the server added an m-line for bob");
    net.clients[1]
        .rtc
        .writer(bob_mid)
        .unwrap()
        .request_keyframe(None, str0m::media::KeyframeRequestKind::Pli)
        .unwrap();
    net.stream_video(0, cam, 30, 36, false);
    assert!(
        net.clients[0].keyframe_requests > asked,
        "bob's request reached alice"
    );
}

/// The publisher's offer as twilio-video.js sends it with `preferredVideoCodecs: 'auto'`: three
/// simulcast SSRCs in an `a=ssrc-group:SIM` (the first being the one str0m's client really sends),
/// which the client then quietly falls back from.
fn munge_simulcast(sdp: &str) -> String {
    let mut out = String::new();
    let mut first = None;
    for line in sdp.split("\r\n") {
        out.push_str(line);
        out.push_str("\r\n");
        if let Some(rest) = line.strip_prefix("a=ssrc:")
            && first.is_none()
            && line.contains(" cname:")
        {
            let ssrc = rest.split(' ').next().unwrap().to_owned();
            let cname = rest.split("cname:").nth(1).unwrap().to_owned();
            first = Some(ssrc.clone());
            for extra in ["3000000001", "3000000002"] {
                out.push_str(&format!("a=ssrc:{extra} cname:{cname}\r\n"));
            }
            out.push_str(&format!(
                "a=ssrc-group:SIM {ssrc} 3000000001 3000000002\r\n"
            ));
        }
    }
    out.trim_end_matches("\r\n").to_owned() + "\r\n"
}

#[test]
fn a_simulcast_offer_with_one_stream_sent_reaches_late_subscribers_and_their_requests() {
    let mut net = Net::new(3);
    net.munge = Some(munge_simulcast);
    let cam = net.connect(0, &[(MediaKind::Video, "alice-cam")])[0];
    net.munge = None;
    net.connect(1, &[]);
    net.connect(2, &[]);
    net.run(Duration::from_millis(300));
    net.stream_video(0, cam, 0, 30, true);
    // Bob and then carol join after alice's camera has been running for a second.
    let alice_cam = sub(9, &net.clients[0], "alice-cam", TrackKind::Video);
    for c in [1, 2] {
        let sid = net.clients[c].sid;
        net.core
            .set_subscriptions(net.now, sid, std::slice::from_ref(&alice_cam));
        net.run(Duration::from_millis(200));
        let asked = net.clients[0].keyframe_requests;
        net.stream_video(0, cam, 30 + 10 * c as u64, 35 + 10 * c as u64, false);
        assert!(
            net.clients[0].keyframe_requests > asked,
            "the request for subscriber {c} went to the stream alice sends"
        );
        net.stream_video(0, cam, 35 + 10 * c as u64, 40 + 10 * c as u64, true);
        assert!(
            net.clients[c].frames.len() >= 4,
            "subscriber {c} shows alice's camera: {:?}",
            net.clients[c].frames
        );
    }
}

#[test]
fn a_video_packet_lost_on_the_way_to_a_subscriber_is_recovered_within_a_second() {
    let mut net = Net::new(2);
    let cam = net.connect(0, &[(MediaKind::Video, "alice-cam")])[0];
    net.connect(1, &[]);
    net.run(Duration::from_millis(300));
    let bob = net.clients[1].sid;
    let alice_cam = sub(9, &net.clients[0], "alice-cam", TrackKind::Video);
    net.core.set_subscriptions(net.now, bob, &[alice_cam]);
    net.run(Duration::from_millis(300));
    net.stream_video(0, cam, 0, 20, true);
    let shown = net.clients[1].frames.len();
    assert!(shown >= 19, "bob shows alice's camera: {shown} frames");

    // One packet of frame 20 is lost between the server and bob.
    net.drop_to = Some((net.clients[1].addr, 1));
    let lost_at = net.now;
    net.stream_video(0, cam, 20, 50, false);
    assert_eq!(net.drop_to.map(|d| d.1), Some(0), "a packet was dropped");
    let frame_20 = 20 * 3000;
    let after: Vec<&(Mid, u64, bool)> = net.clients[1]
        .frames
        .iter()
        .filter(|(_, t, _)| *t >= frame_20)
        .collect();
    // Frames after the loss keep coming (repaired by retransmission or restarted by a keyframe),
    // so bob's video recovers: every frame from one second after the loss on arrives.
    let recovered_from = frame_20 + 30 * 3000;
    let missing: Vec<u64> = (recovered_from / 3000..50)
        .filter(|n| !after.iter().any(|(_, t, _)| *t == n * 3000))
        .collect();
    assert!(
        missing.is_empty(),
        "frames missing a second after the loss at {lost_at:?}: {missing:?}; got {after:?}"
    );
    assert!(
        after.len() >= 28,
        "almost every frame after the loss arrives: {} of 30",
        after.len()
    );
}

#[test]
fn data_track_messages_reach_subscribers_on_a_channel_labelled_with_the_track() {
    let mut net = Net::new(2);
    net.connect(0, &[(MediaKind::Audio, "alice-mic")]);
    net.connect(1, &[(MediaKind::Audio, "bob-mic")]);
    net.run(Duration::from_millis(300));
    // Alice publishes a data track: a channel labelled with its id (this needs a new offer).
    let mut change = net.clients[0].rtc.sdp_api();
    let cid = change.add_channel("alice-data".to_owned());
    let (offer, pending) = change.apply().expect("the first channel needs an offer");
    net.clients[0].revision += 1;
    let rev = net.clients[0].revision;
    let answer = net
        .client_offer(0, rev, &offer.to_sdp_string())
        .expect("answered");
    net.clients[0].accept_answer(pending, &answer);
    net.run(Duration::from_millis(500));

    let bob = net.clients[1].sid;
    let data = sub(11, &net.clients[0], "alice-data", TrackKind::Data);
    net.core
        .set_subscriptions(net.now, bob, std::slice::from_ref(&data));
    // Sent before bob's channel for it is open: the server holds it and sends it on open.
    net.clients[0]
        .rtc
        .channel(cid)
        .expect("alice's channel is open")
        .write(false, b"early")
        .unwrap();
    net.run(Duration::from_millis(800));
    assert_eq!(
        net.clients[1].labels.values().cloned().collect::<Vec<_>>(),
        vec![data.track.to_string()]
    );
    net.clients[0]
        .rtc
        .channel(cid)
        .expect("alice's channel is open")
        .write(false, b"hello bob")
        .unwrap();
    net.run(Duration::from_millis(300));
    assert_eq!(
        net.clients[1].messages,
        vec![
            (data.track.to_string(), b"early".to_vec()),
            (data.track.to_string(), b"hello bob".to_vec())
        ]
    );
}

#[test]
fn a_client_offer_crossing_a_server_offer_is_ignored_and_the_next_one_answered() {
    let mut net = Net::new(2);
    net.connect(0, &[(MediaKind::Audio, "alice-mic")]);
    let bob_mids = net.connect(1, &[(MediaKind::Audio, "bob-mic")]);
    net.run(Duration::from_millis(300));
    let (alice, pc) = (net.clients[0].sid, net.clients[0].pc.clone());

    // The server offers alice bob's microphone; the offer is still on its way to her.
    let bob_mic = sub(21, &net.clients[1], "bob-mic", TrackKind::Audio);
    net.core.set_subscriptions(net.now, alice, &[bob_mic]);
    net.deliver();
    let offers: Vec<(u64, String)> = net
        .signals
        .iter()
        .filter_map(|(p, s)| match s {
            Signal::Offer { revision, sdp, .. } if *p == alice => Some((*revision, sdp.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(offers.len(), 1, "one server offer for alice");
    let (server_revision, server_sdp) = offers[0].clone();
    net.signals
        .retain(|(p, s)| !(*p == alice && matches!(s, Signal::Offer { .. })));
    let crossing = net.clients[0].revision + 1;
    assert_eq!(server_revision, crossing);

    // Alice publishes a second microphone meanwhile: her offer has the same revision (glare).
    let (_, offer, _rolled_back) = net.clients[0].offer_track(MediaKind::Audio, "alice-mic2");
    let ignored = net.client_offer(0, crossing, &offer.to_sdp_string());
    assert_eq!(
        ignored, None,
        "a client offer crossing ours is left unanswered"
    );

    // As twilio-video.js does: roll back, answer the server's offer at its revision, offer again at
    // the next one.
    let answer = net.clients[0]
        .rtc
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(&server_sdp).unwrap())
        .unwrap();
    net.core
        .answer(net.now, alice, &pc, crossing, &answer.to_sdp_string())
        .unwrap();
    let (mic2, offer, pending) = net.clients[0].offer_track(MediaKind::Audio, "alice-mic2");
    let answer = net
        .client_offer(0, crossing + 1, &offer.to_sdp_string())
        .expect("the offer after the glare is answered");
    net.clients[0].accept_answer(pending, &answer);
    net.clients[0].revision = crossing + 1;
    net.run(Duration::from_millis(300));

    // Both directions work: bob receives alice's second microphone, alice receives bob's.
    let bob = net.clients[1].sid;
    let alice_mic2 = sub(22, &net.clients[0], "alice-mic2", TrackKind::Audio);
    net.core.set_subscriptions(net.now, bob, &[alice_mic2]);
    net.run(Duration::from_millis(500));
    for n in 0..30 {
        net.send_audio(0, mic2, n);
        net.send_audio(1, bob_mids[0], n);
        net.run(Duration::from_millis(20));
    }
    for (c, who) in [(0, "alice"), (1, "bob")] {
        let got: usize = net.clients[c].received.values().sum();
        assert!(got >= 25, "{who} received {got} of 30 audio frames");
    }
}

#[test]
fn an_offer_repeated_after_a_lost_answer_gets_the_same_answer() {
    let mut net = Net::new(2);
    net.connect(0, &[(MediaKind::Audio, "alice-mic")]);
    net.connect(1, &[(MediaKind::Audio, "bob-mic")]);
    net.run(Duration::from_millis(300));
    let alice = net.clients[0].sid;

    // Alice publishes a second microphone; the answer is lost with her signaling connection, and
    // when she resumes she sends the same offer again.
    let (mic2, offer, pending) = net.clients[0].offer_track(MediaKind::Audio, "alice-mic2");
    let offer = offer.to_sdp_string();
    let revision = net.clients[0].revision + 1;
    let offer_again = |net: &mut Net, sdp: &str, revision: u64| net.client_offer(0, revision, sdp);
    let lost = offer_again(&mut net, &offer, revision).expect("answered");
    let again = offer_again(&mut net, &offer, revision).expect("answered again");
    assert_eq!(again, lost, "the same answer");
    let other = offer.replace("alice-mic2", "alice-mic3");
    assert_eq!(
        offer_again(&mut net, &other, revision),
        None,
        "another offer at the same revision is stale"
    );
    assert_eq!(offer_again(&mut net, &offer, revision - 1), None);
    net.clients[0].accept_answer(pending, &again);
    net.clients[0].revision = revision;
    net.run(Duration::from_millis(300));

    // The second microphone reaches bob.
    let bob = net.clients[1].sid;
    let alice_mic2 = sub(23, &net.clients[0], "alice-mic2", TrackKind::Audio);
    net.core.set_subscriptions(net.now, bob, &[alice_mic2]);
    net.run(Duration::from_millis(500));
    for n in 0..30 {
        net.send_audio(0, mic2, n);
        net.run(Duration::from_millis(20));
    }
    let got: usize = net.clients[1].received.values().sum();
    assert!(got >= 25, "bob received {got} of 30 audio frames");

    // Once a server offer moved the revision on, the old offer is stale.
    let alice_hears_bob = sub(24, &net.clients[1], "bob-mic", TrackKind::Audio);
    net.core
        .set_subscriptions(net.now, alice, &[alice_hears_bob]);
    net.run(Duration::from_millis(300));
    assert!(
        net.clients[0].revision > revision,
        "a server offer was answered"
    );
    assert_eq!(offer_again(&mut net, &offer, revision), None);
}

#[test]
fn the_media_server_counts_what_it_carried_and_the_subscribers_nacks() {
    let mut net = Net::new(2);
    let cam = net.connect(0, &[(MediaKind::Video, "alice-cam")])[0];
    net.connect(1, &[]);
    net.run(Duration::from_millis(300));
    let bob = net.clients[1].sid;
    let alice_cam = sub(9, &net.clients[0], "alice-cam", TrackKind::Video);
    net.core.set_subscriptions(net.now, bob, &[alice_cam]);
    net.run(Duration::from_millis(300));
    net.stream_video(0, cam, 0, 20, true);
    net.drop_to = Some((net.clients[1].addr, 1));
    net.stream_video(0, cam, 20, 50, false);
    // Reports come once a second.
    net.run(Duration::from_millis(1500));

    let s = net.core.stats(net.now);
    assert_eq!(
        (s.peer_connections, s.connected_peer_connections),
        (2, 2),
        "{s:?}"
    );
    assert_eq!((s.streams_in, s.streams_out), (1, 1), "{s:?}");
    // 50 frames of three packets each way (the sent side may add retransmissions).
    assert!(
        s.received.packets >= 150 && s.received.bytes > 100_000,
        "{s:?}"
    );
    assert!(s.sent.packets >= 149 && s.sent.bytes > 100_000, "{s:?}");
    assert!(
        s.sent.nacks >= 1,
        "bob asked again for the packet he lost: {s:?}"
    );

    // Totals stay when the connections go; the streams do not.
    let alice = net.clients[0].sid;
    net.core.remove_participant(alice);
    net.core.remove_participant(bob);
    net.now += Duration::from_secs(6);
    let after = net.core.stats(net.now);
    assert_eq!(
        (after.peer_connections, after.streams_in, after.streams_out),
        (0, 0, 0),
        "{after:?}"
    );
    assert_eq!((after.received, after.sent), (s.received, s.sent));
}
