//! The media core with several in-process peers, on a simulated network and a simulated clock:
//! media, keyframe requests and data channel messages are forwarded to the subscribers.

mod common;

use std::time::Duration;

use common::*;
use str0m::change::SdpOffer;
use str0m::media::{MediaKind, Mid};
use vroom_domain::track::TrackKind;
use vroom_sfu::Signal;

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
            Signal::Offer { .. } | Signal::Warnings(_) => None,
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

#[test]
fn the_core_wakes_on_a_4_ms_grid_and_each_wake_up_sends_what_was_forwarded_since() {
    let mut net = Net::new(3);
    // Time moves 1 ms at a time: a core served at every step would wake 1,000 times a second.
    net.step = Duration::from_millis(1);
    let mids = net.connect(
        0,
        &[
            (MediaKind::Audio, "alice-mic"),
            (MediaKind::Video, "alice-cam"),
        ],
    );
    net.connect(1, &[]);
    net.connect(2, &[]);
    net.run(Duration::from_millis(300));
    let subs = [
        sub(7, &net.clients[0], "alice-mic", TrackKind::Audio),
        sub(9, &net.clients[0], "alice-cam", TrackKind::Video),
    ];
    for c in [1, 2] {
        let sid = net.clients[c].sid;
        net.core.set_subscriptions(net.now, sid, &subs);
    }
    net.run(Duration::from_millis(500));
    let (wakes, start) = (net.wakes.len(), net.now);
    // One second: 30 video frames of three packets and 60 audio frames.
    for n in 0..100_u64 {
        if n % 10 < 6 {
            net.send_audio(0, mids[0], n * 6 / 10 + n % 10);
        }
        if n % 10 < 3 {
            net.send_video(0, mids[1], n / 10 * 3 + n % 10, n == 0);
        }
        net.run(Duration::from_millis(10));
    }
    let second = net.now - start;
    let woken = net.wakes.len() - wakes;
    // At most one wake-up per 4 ms grid slot, and the adaptation tick's.
    let most = usize::try_from(second.as_millis() / 4).unwrap() + 8;
    assert!(
        woken <= most,
        "{woken} wake-ups in {second:?} (most {most})"
    );
    for c in [1, 2] {
        let video = net.clients[c].frames.len();
        let audio: usize = net.clients[c].received.values().sum::<usize>() - video;
        assert!(video >= 28, "client {c}: {video} of 30 video frames");
        assert!(audio >= 57, "client {c}: {audio} of 60 audio frames");
    }
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

#[test]
fn a_subscriber_whose_downstream_is_not_estimated_is_not_asked_for_transport_feedback() {
    let mut net = Net::new(2);
    let mids = net.connect(
        0,
        &[
            (MediaKind::Audio, "alice-mic"),
            (MediaKind::Video, "alice-cam"),
        ],
    );
    net.connect(1, &[]);
    net.run(Duration::from_millis(300));
    let bob = net.clients[1].sid;
    let subs = [
        sub(7, &net.clients[0], "alice-mic", TrackKind::Audio),
        sub(9, &net.clients[0], "alice-cam", TrackKind::Video),
    ];
    net.core.set_subscriptions(net.now, bob, &subs);
    net.run(Duration::from_millis(500));
    let (sent, start) = (net.clients[1].sent, net.now);
    // Two seconds: 60 video frames of three packets and 100 audio frames.
    for n in 0..200_u64 {
        if n % 10 < 5 {
            net.send_audio(0, mids[0], n / 2);
        }
        if n % 10 < 3 {
            net.send_video(0, mids[1], n / 10 * 3 + n % 10, n == 0);
        }
        net.run(Duration::from_millis(10));
    }
    let bob_sent = net.clients[1].sent - sent;
    let got: usize = net.clients[1].received.values().sum();
    assert!(got >= 150, "bob received {got} frames");
    // Receiver reports only (about one a second per stream), not feedback every 50 ms.
    assert!(
        bob_sent <= 10,
        "bob sent {bob_sent} datagrams in {:?} while receiving",
        net.now - start
    );
}
