//! ICE over TCP through the real media server (`Media`, its UDP socket and TCP listener on
//! loopback): a subscriber that has no UDP at all connects over TCP (RFC 6544, it is the active
//! side) and receives the audio a publisher sends over UDP.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpOffer};
use str0m::media::{Direction, MediaKind, MediaTime};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vroom_domain::live::{MediaCommand, Subscription};
use vroom_domain::room::VideoCodec;
use vroom_domain::sid::{ParticipantSid, RoomSid, TrackSid};
use vroom_domain::time::Timestamp;
use vroom_domain::track::{TrackKind, TrackPriority};
use vroom_rooms::MediaHooks;
use vroom_sfu::{Media, MediaConfig, Signal};

const ROOM: RoomSid = RoomSid::from_bytes([1; 16]);
const ALICE: ParticipantSid = ParticipantSid::from_bytes([2; 16]);
const BOB: ParticipantSid = ParticipantSid::from_bytes([3; 16]);

fn client(now: Instant) -> Rtc {
    Rtc::builder()
        .set_crypto_provider(Arc::new(str0m::crypto::from_feature_flags()))
        .build(now)
}

/// Runs `rtc` until it wants a timeout: sends what it transmits with `send`, returns its events.
fn drain(
    rtc: &mut Rtc,
    mut send: impl FnMut(Protocol, SocketAddr, &[u8]),
) -> (Instant, Vec<Event>) {
    let mut events = Vec::new();
    loop {
        match rtc.poll_output().expect("the client runs") {
            Output::Timeout(t) => return (t, events),
            Output::Transmit(t) => send(t.proto, t.destination, &t.contents),
            Output::Event(e) => events.push(e),
        }
    }
}

#[tokio::test]
async fn a_client_without_udp_connects_over_tcp_and_receives_audio() {
    let stop = CancellationToken::new();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let (media, _task) = Media::start(
        MediaConfig {
            bind: loopback,
            tcp_bind: Some(loopback),
            announce_ip: None,
            max_subscriber_bitrate: None,
            // One worker: the test reaches its TCP listener.
            workers: 1,
            socket_buffer: vroom_sfu::DEFAULT_SOCKET_BUFFER,
            turn: None,
            media_dir: None,
            recording_media_timeout: vroom_sfu::RECORDING_MEDIA_TIMEOUT,
        },
        stop.clone(),
    )
    .await
    .expect("the media server starts");
    let server_tcp = media.tcp_addr().expect("ICE over TCP is on");
    let (signals_tx, mut signals) = mpsc::unbounded_channel();
    media.attach(BOB, signals_tx);
    let now = Instant::now();

    // Alice publishes a microphone over UDP.
    let alice_udp = UdpSocket::bind(loopback).await.unwrap();
    let alice_addr = alice_udp.local_addr().unwrap();
    let mut alice = client(now);
    alice.add_local_candidate(Candidate::host(alice_addr, "udp").unwrap());
    let mut change = alice.sdp_api();
    let mic = change.add_media(
        MediaKind::Audio,
        Direction::SendRecv,
        Some("-".into()),
        Some("alice-mic".into()),
        None,
    );
    let (offer, pending) = change.apply().unwrap();
    let answer = media
        .offer(vroom_sfu::Offer {
            participant: ALICE,
            room: ROOM,
            codecs: vec![VideoCodec::Vp8],
            pc: "pc-a".into(),
            revision: 1,
            sdp: offer.to_sdp_string(),
        })
        .await
        .unwrap()
        .expect("an answer");
    assert!(
        answer.contains(&format!("{} typ host tcptype passive", server_tcp.port())),
        "the answer offers ICE over TCP:\n{answer}"
    );
    alice
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
        .unwrap();

    // Bob has only a TCP connection to the server (as behind a firewall that drops UDP).
    let stream = TcpStream::connect(server_tcp).await.unwrap();
    let bob_addr = stream.local_addr().unwrap();
    let (mut bob_read, mut bob_write) = stream.into_split();
    let (frames_tx, mut frames) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        loop {
            let mut len = [0u8; 2];
            if bob_read.read_exact(&mut len).await.is_err() {
                return;
            }
            let mut data = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if bob_read.read_exact(&mut data).await.is_err() || frames_tx.send(data).is_err() {
                return;
            }
        }
    });
    let mut bob = client(now);
    bob.add_local_candidate(
        Candidate::builder()
            .tcp()
            .host(bob_addr)
            .tcptype(TcpType::Active)
            .build()
            .unwrap(),
    );
    let mut change = bob.sdp_api();
    change.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
    let (offer, pending) = change.apply().unwrap();
    let answer = media
        .offer(vroom_sfu::Offer {
            participant: BOB,
            room: ROOM,
            codecs: vec![VideoCodec::Vp8],
            pc: "pc-b".into(),
            revision: 1,
            sdp: offer.to_sdp_string(),
        })
        .await
        .unwrap()
        .expect("an answer");
    bob.sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(&answer).unwrap())
        .unwrap();
    media.apply(
        ROOM,
        vec![MediaCommand::Subscriptions {
            participant: BOB,
            subscriptions: vec![Subscription {
                track: TrackSid::from_bytes([7; 16]),
                publisher: ALICE,
                publisher_track_id: "alice-mic".into(),
                kind: TrackKind::Audio,
                name: "mic".into(),
                enabled: true,
                priority: TrackPriority::Standard,
                since: Timestamp::from_secs(0),
            }],
        }],
    );

    let mut udp_buf = vec![0u8; 2000];
    let mut bob_connected = false;
    let mut received = 0;
    let mut sent = 0u64;
    let mut next_audio = Instant::now();
    let give_up = Instant::now() + Duration::from_secs(30);
    while received < 25 {
        assert!(
            Instant::now() < give_up,
            "bob received {received} audio frames over TCP (connected: {bob_connected})"
        );
        let mut out: Vec<(Protocol, SocketAddr, Vec<u8>)> = Vec::new();
        let (alice_timeout, _) = drain(&mut alice, |p, d, c| out.push((p, d, c.to_vec())));
        for (proto, destination, data) in out.drain(..) {
            assert_eq!(proto, Protocol::Udp);
            alice_udp.send_to(&data, destination).await.unwrap();
        }
        let alice_connected = alice.is_connected();
        let (bob_timeout, bob_events) = drain(&mut bob, |p, d, c| out.push((p, d, c.to_vec())));
        for (proto, destination, data) in out.drain(..) {
            assert_eq!(
                (proto, destination),
                (Protocol::Tcp, server_tcp),
                "bob sends only over TCP"
            );
            let len = u16::try_from(data.len()).unwrap().to_be_bytes();
            bob_write
                .write_all(&[&len[..], &data].concat())
                .await
                .unwrap();
        }
        for e in bob_events {
            match e {
                Event::Connected => bob_connected = true,
                Event::MediaData(_) => received += 1,
                _ => {}
            }
        }
        if alice_connected && Instant::now() >= next_audio {
            let writer = alice.writer(mic).expect("alice's microphone");
            let pt = writer.payload_params().next().unwrap().pt();
            writer
                .write(
                    pt,
                    Instant::now(),
                    MediaTime::from_90khz(sent * 960),
                    vec![0xfc; 40],
                )
                .unwrap();
            sent += 1;
            next_audio = Instant::now() + Duration::from_millis(20);
            continue;
        }
        let wake = alice_timeout.min(bob_timeout).min(next_audio);
        tokio::select! {
            r = alice_udp.recv_from(&mut udp_buf) => {
                let (n, source) = r.unwrap();
                alice.handle_input(Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp,
                    source,
                    destination: alice_addr,
                    contents: udp_buf[..n].try_into().unwrap(),
                })).unwrap();
            }
            Some(frame) = frames.recv() => {
                bob.handle_input(Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Tcp,
                    source: server_tcp,
                    destination: bob_addr,
                    contents: frame.as_slice().try_into().unwrap(),
                })).unwrap();
            }
            Some(signal) = signals.recv() => {
                if let Signal::Offer { pc, revision, sdp } = signal {
                    let answer = bob
                        .sdp_api()
                        .accept_offer(SdpOffer::from_sdp_string(&sdp).unwrap())
                        .unwrap();
                    media.answer(BOB, pc, revision, answer.to_sdp_string());
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                alice.handle_input(Input::Timeout(now)).unwrap();
                bob.handle_input(Input::Timeout(now)).unwrap();
            }
        }
    }
    assert!(bob_connected);
    let stats = media.stats().await.expect("the media server runs");
    assert_eq!(
        stats.tcp_connections, 1,
        "bob's connection is the one TCP connection"
    );
    stop.cancel();
}
