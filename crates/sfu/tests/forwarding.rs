//! The media core with several in-process peers, on a simulated network and a simulated clock:
//! clients offer first (as twilio-video.js does), the server answers, then offers each subscriber the
//! tracks it receives; media, keyframe requests and data channel messages are forwarded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::channel::ChannelId;
use str0m::media::{Direction, MediaKind, MediaTime, Mid};
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
        }
    }

    /// Client `c`'s offer at `revision`, as the server takes it from signaling: its answer, if any.
    fn client_offer(&mut self, c: usize, revision: u64, sdp: &str) -> Option<String> {
        let client = &self.clients[c];
        self.core
            .offer(
                self.now,
                client.sid,
                ROOM,
                &[VideoCodec::Vp8],
                &client.pc,
                revision,
                sdp,
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
                            Event::MediaData(d) => *c.received.entry(d.mid).or_default() += 1,
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
fn a_subscriber_keyframe_request_reaches_the_publisher() {
    let mut net = Net::new(2);
    net.connect(0, &[(MediaKind::Video, "alice-cam")]);
    net.connect(1, &[]);
    net.run(Duration::from_millis(300));
    let bob = net.clients[1].sid;
    let cam = sub(9, &net.clients[0], "alice-cam", TrackKind::Video);
    net.core.set_subscriptions(net.now, bob, &[cam]);
    net.run(Duration::from_millis(500));
    let opened = net.clients[0].keyframe_requests;
    assert!(
        opened >= 1,
        "a new subscriber triggers a keyframe request to the publisher"
    );
    // Bob asks explicitly (PLI) on the m-line the server added for Alice's camera.
    net.run(Duration::from_millis(1100));
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
    net.run(Duration::from_millis(200));
    assert!(
        net.clients[0].keyframe_requests > opened,
        "bob's request reached alice"
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
