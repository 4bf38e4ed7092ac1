//! The media server's workers over real UDP sockets: each has its own port, a room's peer
//! connections all live on one worker, and rooms are spread over them.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Instant;

use str0m::Rtc;
use str0m::media::{Direction, MediaKind};
use tokio_util::sync::CancellationToken;
use vroom_domain::sid::{ParticipantSid, RoomSid};
use vroom_sfu::{Media, MediaConfig};

/// A client's first offer (one camera), as the server takes it from signaling.
fn offer() -> String {
    let mut rtc = Rtc::builder()
        .set_crypto_provider(std::sync::Arc::new(str0m::crypto::from_feature_flags()))
        .build(Instant::now());
    let mut change = rtc.sdp_api();
    change.add_media(
        MediaKind::Video,
        Direction::SendRecv,
        Some("-".into()),
        Some("cam".into()),
        None,
    );
    let (offer, _) = change.apply().expect("an offer");
    offer.to_sdp_string()
}

/// The port of the host candidate in an answer: the worker that took the peer connection.
fn candidate_port(answer: &str) -> u16 {
    let line = answer
        .lines()
        .find(|l| l.starts_with("a=candidate"))
        .expect("a candidate");
    line.split_whitespace().nth(5).unwrap().parse().unwrap()
}

#[tokio::test]
async fn rooms_are_spread_over_workers_and_a_room_stays_on_one() {
    let stop = CancellationToken::new();
    let config = MediaConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        tcp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        announce_ip: None,
        max_subscriber_bitrate: None,
        turn: None,
        workers: 3,
        socket_buffer: vroom_sfu::DEFAULT_SOCKET_BUFFER,
        media_dir: None,
        recording_media_timeout: vroom_sfu::RECORDING_MEDIA_TIMEOUT,
    };
    let (media, task) = Media::start(config, stop.clone()).await.unwrap();
    let ports: HashSet<u16> = media.public_addrs().iter().map(SocketAddr::port).collect();
    assert_eq!(ports.len(), 3, "three workers, three ports");

    let mut used = HashSet::new();
    for r in 1..=8u8 {
        let room = RoomSid::from_bytes([r; 16]);
        let mut room_ports = HashSet::new();
        for p in 0..2u8 {
            let participant = ParticipantSid::from_bytes([r * 10 + p; 16]);
            let answer = media
                .offer(vroom_sfu::Offer {
                    participant,
                    room,
                    codecs: Vec::new(),
                    pc: "pc".into(),
                    revision: 1,
                    sdp: offer(),
                })
                .await
                .unwrap()
                .expect("an answer");
            room_ports.insert(candidate_port(&answer));
        }
        assert_eq!(
            room_ports.len(),
            1,
            "both participants of room {r} on one worker"
        );
        used.extend(room_ports);
    }
    assert!(
        used.len() > 1,
        "eight rooms use more than one worker: {used:?}"
    );
    assert!(used.is_subset(&ports));
    let stats = media.stats().await.expect("stats from every worker");
    assert_eq!(stats.peer_connections, 16, "summed over the workers");
    stop.cancel();
    task.await.unwrap();
}
