//! Adaptive media in the core, with str0m peers on the simulated network: the media signaling
//! channels the server opens, render hints switching a track off and on, and a subscriber's
//! bandwidth shared by priority.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use str0m::media::{MediaKind, Mid};
use vroom_domain::track::{TrackKind, TrackPriority};
use vroom_sfu::MediaOptions;

/// What twilio-video.js puts in `connect` with a bandwidth profile, dominant speaker and network
/// quality on.
fn options(profile: Value) -> MediaOptions {
    let dc = json!({ "transports": [{ "type": "data-channel" }] });
    let ms = json!({
        "active_speaker": dc, "network_quality": dc, "track_priority": dc,
        "track_switch_off": dc, "render_hints": dc,
    });
    MediaOptions::from_connect(Some(&ms), Some(&profile))
}

/// Sends `client`'s JSON `message` on the server's channel labelled `label`.
fn send_msp(net: &mut Net, c: usize, label: &str, message: &Value) {
    let client = &mut net.clients[c];
    let id = client
        .labels
        .iter()
        .find(|(_, l)| l.as_str() == label)
        .map(|(id, _)| *id)
        .unwrap_or_else(|| panic!("no {label} channel"));
    client
        .rtc
        .channel(id)
        .expect("the channel")
        .write(false, message.to_string().as_bytes())
        .unwrap();
    net.deliver();
}

/// Client `c`'s render hint `hint` (enabled and/or render_dimensions) for track `sid`, message `id`.
fn render_hint(net: &mut Net, c: usize, id: u64, sid: &str, hint: Value) {
    let mut hint = hint;
    hint["track"] = json!(sid);
    send_msp(
        net,
        c,
        "render_hints",
        &json!({ "type": "render_hints", "subscriber": { "id": id, "hints": [hint] } }),
    );
}

/// The JSON messages client `c` received on `label`, taken.
fn take_msp(net: &mut Net, c: usize, label: &str) -> Vec<Value> {
    let client = &mut net.clients[c];
    let (mine, others): (Vec<_>, Vec<_>) = std::mem::take(&mut client.messages)
        .into_iter()
        .partition(|(l, _)| l == label);
    client.messages = others;
    mine.into_iter()
        .map(|(_, d)| serde_json::from_slice(&d).expect("JSON"))
        .collect()
}

/// Video from each `(client, mid)` for `frames` frames at 30 per second, a keyframe first and
/// whenever the server asked the publisher for one.
fn stream(net: &mut Net, sources: &[(usize, Mid)], frames: u64, from: u64) {
    let mut asked: Vec<usize> = sources
        .iter()
        .map(|(c, _)| net.clients[*c].keyframe_requests)
        .collect();
    for n in from..from + frames {
        for (k, (c, mid)) in sources.iter().enumerate() {
            let requests = net.clients[*c].keyframe_requests;
            let key = n == from || requests > asked[k];
            asked[k] = requests;
            net.send_video(*c, *mid, n, key);
        }
        net.run(Duration::from_millis(33));
    }
}

fn frames_on(net: &Net, c: usize, mid: Mid) -> usize {
    net.clients[c].frames.iter().filter(|f| f.0 == mid).count()
}

/// The m-line a subscriber receives track `sid` on (its msid track id is the SID).
fn mid_of(net: &Net, c: usize, sid: &str) -> Mid {
    let client = &net.clients[c];
    *client
        .added
        .iter()
        .find(|m| {
            client
                .rtc
                .media(**m)
                .is_some_and(|media| media.track_id() == sid)
        })
        .expect("an m-line for the track")
}

fn video_sub(
    track: u8,
    publisher: &Client,
    id: &str,
    priority: TrackPriority,
) -> vroom_domain::live::Subscription {
    vroom_domain::live::Subscription {
        priority,
        ..sub(track, publisher, id, TrackKind::Video)
    }
}

#[test]
fn the_server_opens_the_channels_asked_for_and_answers_network_quality() {
    let mut net = Net::new(2);
    net.connect(0, &[(MediaKind::Video, "cam-a")]);
    let me = net.clients[1].sid;
    net.core
        .set_options(me, options(json!({ "video": { "mode": "grid" } })));
    net.connect(1, &[]);
    net.run(Duration::from_millis(500));
    let mut labels: Vec<String> = net.clients[1].labels.values().cloned().collect();
    labels.sort();
    assert_eq!(
        labels,
        [
            "active_speaker",
            "network_quality",
            "render_hints",
            "track_priority",
            "track_switch_off"
        ]
    );
    assert!(
        net.clients[0].labels.is_empty(),
        "nothing asked, nothing opened"
    );
    send_msp(
        &mut net,
        1,
        "network_quality",
        &json!({ "type": "network_quality", "recv": { "fractionLost": 0.0 }, "send": { "rtt": 0.02 }, "reportLevel": 1, "remoteReportLevel": 1 }),
    );
    net.run(Duration::from_millis(50));
    let replies = take_msp(&mut net, 1, "network_quality");
    assert_eq!(replies.len(), 1, "{replies:?}");
    assert_eq!(replies[0]["local"], 5);
    send_msp(
        &mut net,
        1,
        "network_quality",
        &json!({ "type": "network_quality", "recv": { "fractionLost": 0.2 }, "reportLevel": 1, "remoteReportLevel": 0 }),
    );
    net.run(Duration::from_millis(50));
    assert_eq!(
        take_msp(&mut net, 1, "network_quality")[0]["local"],
        1,
        "heavy loss"
    );
}

#[test]
fn render_hints_switch_a_track_off_and_on() {
    let mut net = Net::new(2);
    let mids = net.connect(0, &[(MediaKind::Video, "cam-a")]);
    let me = net.clients[1].sid;
    net.core
        .set_options(me, options(json!({ "video": { "mode": "grid" } })));
    net.connect(1, &[]);
    let s = video_sub(7, &net.clients[0], "cam-a", TrackPriority::Standard);
    let sid = s.track.to_string();
    let now = net.now;
    net.core.set_subscriptions(now, me, &[s]);
    net.run(Duration::from_millis(300));
    stream(&mut net, &[(0, mids[0])], 30, 0);
    let mid = mid_of(&net, 1, &sid);
    let before = frames_on(&net, 1, mid);
    assert!(before > 20, "frames flow: {before}");

    render_hint(&mut net, 1, 3, &sid, json!({ "enabled": false }));
    let reply = take_msp(&mut net, 1, "render_hints");
    assert_eq!(reply[0]["subscriber"]["id"], 3);
    assert_eq!(reply[0]["subscriber"]["hints"][0]["result"], "OK");
    assert_eq!(
        take_msp(&mut net, 1, "track_switch_off"),
        [json!({ "type": "track_switch_off", "off": [sid], "on": [] })]
    );
    let off = frames_on(&net, 1, mid);
    stream(&mut net, &[(0, mids[0])], 30, 30);
    assert!(
        frames_on(&net, 1, mid) <= off + 1,
        "nothing forwarded while off"
    );

    render_hint(&mut net, 1, 4, &sid, json!({ "enabled": true }));
    assert_eq!(
        take_msp(&mut net, 1, "track_switch_off"),
        [json!({ "type": "track_switch_off", "off": [], "on": [sid] })]
    );
    // Back within a second: the server asks the publisher for a keyframe.
    stream(&mut net, &[(0, mids[0])], 30, 60);
    assert!(frames_on(&net, 1, mid) > off + 15, "frames flow again");
}

#[test]
fn a_capped_subscriber_keeps_the_high_priority_track_and_follows_set_priority() {
    // Each track carries about 580 kbit/s; 800 kbit/s fit one.
    let mut net = Net::with_cap(3, Some(800_000));
    let a = net.connect(0, &[(MediaKind::Video, "cam-a")]);
    let b = net.connect(1, &[(MediaKind::Video, "cam-b")]);
    let me = net.clients[2].sid;
    net.core
        .set_options(me, options(json!({ "video": { "mode": "grid" } })));
    net.connect(2, &[]);
    let high = video_sub(7, &net.clients[0], "cam-a", TrackPriority::High);
    let low = video_sub(8, &net.clients[1], "cam-b", TrackPriority::Low);
    let (high_sid, low_sid) = (high.track.to_string(), low.track.to_string());
    let now = net.now;
    net.core.set_subscriptions(now, me, &[high, low]);
    net.run(Duration::from_millis(300));
    stream(&mut net, &[(0, a[0]), (1, b[0])], 90, 0);
    let switches = take_msp(&mut net, 2, "track_switch_off");
    let last_off = switches
        .iter()
        .rev()
        .find(|m| !m["off"].as_array().unwrap().is_empty());
    assert_eq!(
        last_off.map(|m| m["off"].clone()),
        Some(json!([low_sid])),
        "{switches:?}"
    );
    let (mh, ml) = (mid_of(&net, 2, &high_sid), mid_of(&net, 2, &low_sid));
    let (h0, l0) = (frames_on(&net, 2, mh), frames_on(&net, 2, ml));
    stream(&mut net, &[(0, a[0]), (1, b[0])], 30, 90);
    assert!(
        frames_on(&net, 2, mh) > h0 + 20,
        "the high-priority track flows"
    );
    assert!(frames_on(&net, 2, ml) <= l0 + 1, "the low one is off");

    // The subscriber turns the priorities around.
    send_msp(
        &mut net,
        2,
        "track_priority",
        &json!({ "type": "track_priority", "track": low_sid, "subscribe": "high" }),
    );
    send_msp(
        &mut net,
        2,
        "track_priority",
        &json!({ "type": "track_priority", "track": high_sid, "subscribe": "low" }),
    );
    let switches = take_msp(&mut net, 2, "track_switch_off");
    let offs: Vec<Value> = switches
        .iter()
        .flat_map(|m| m["off"].as_array().unwrap().clone())
        .collect();
    let ons: Vec<Value> = switches
        .iter()
        .flat_map(|m| m["on"].as_array().unwrap().clone())
        .collect();
    assert_eq!(
        (offs, ons),
        (vec![json!(high_sid)], vec![json!(low_sid)]),
        "{switches:?}"
    );
    let (h1, l1) = (frames_on(&net, 2, mh), frames_on(&net, 2, ml));
    stream(&mut net, &[(0, a[0]), (1, b[0])], 30, 120);
    assert!(
        frames_on(&net, 2, ml) > l1 + 15,
        "the newly high track flows"
    );
    assert!(frames_on(&net, 2, mh) <= h1 + 1, "the newly low one is off");
}

#[test]
fn what_a_subscriber_receives_follows_its_estimated_downstream() {
    let mut net = Net::new(3);
    // The estimator works on packet timing: a millisecond clock.
    net.step = Duration::from_millis(1);
    let a = net.connect(0, &[(MediaKind::Video, "cam-a")]);
    let b = net.connect(1, &[(MediaKind::Video, "cam-b")]);
    let me = net.clients[2].sid;
    // A bandwidth profile turns the estimate on; no maxSubscriptionBitrate.
    net.core
        .set_options(me, options(json!({ "video": { "mode": "grid" } })));
    let addr = net.clients[2].addr;
    net.links.insert(addr, Link::new(3_000_000));
    net.connect(2, &[]);
    let high = video_sub(7, &net.clients[0], "cam-a", TrackPriority::High);
    let low = video_sub(8, &net.clients[1], "cam-b", TrackPriority::Low);
    let low_sid = low.track.to_string();
    let high_sid = high.track.to_string();
    let now = net.now;
    net.core.set_subscriptions(now, me, &[high, low]);
    net.run(Duration::from_millis(300));
    // About 1.2 Mbit/s of video over a 3 Mbit/s link: both tracks end up on.
    stream(&mut net, &[(0, a[0]), (1, b[0])], 300, 0);
    let (mh, ml) = (mid_of(&net, 2, &high_sid), mid_of(&net, 2, &low_sid));
    let (h0, l0) = (frames_on(&net, 2, mh), frames_on(&net, 2, ml));
    stream(&mut net, &[(0, a[0]), (1, b[0])], 60, 300);
    assert!(
        frames_on(&net, 2, ml) > l0 + 40,
        "both fit a 3 Mbit/s link: the low one flows"
    );
    assert!(frames_on(&net, 2, mh) > h0 + 40);
    take_msp(&mut net, 2, "track_switch_off");

    // The link narrows to 800 kbit/s: the estimate follows and the low-priority track goes off.
    net.links.get_mut(&addr).unwrap().rate = 800_000;
    stream(&mut net, &[(0, a[0]), (1, b[0])], 300, 360);
    let switches = take_msp(&mut net, 2, "track_switch_off");
    let offs: Vec<Value> = switches
        .iter()
        .flat_map(|m| m["off"].as_array().unwrap().clone())
        .collect();
    assert!(
        offs.contains(&json!(low_sid)),
        "the low one is switched off: {switches:?}"
    );
    assert!(
        !offs.contains(&json!(high_sid)),
        "the high one stays: {switches:?}"
    );
    let (h1, l1) = (frames_on(&net, 2, mh), frames_on(&net, 2, ml));
    stream(&mut net, &[(0, a[0]), (1, b[0])], 60, 660);
    assert!(frames_on(&net, 2, mh) > h1 + 40, "the high one flows");
    assert!(frames_on(&net, 2, ml) <= l1 + 1, "the low one is off");
}

#[test]
fn render_hints_choose_the_simulcast_layer_a_subscriber_gets() {
    let mut net = Net::new(2);
    let cam = net.connect_simulcast(0, "cam-a");
    let me = net.clients[1].sid;
    // Render hints without a bandwidth profile: no estimate, no budget.
    let dc = json!({ "transports": [{ "type": "data-channel" }] });
    let ms = json!({ "render_hints": dc, "track_switch_off": dc });
    net.core
        .set_options(me, MediaOptions::from_connect(Some(&ms), None));
    net.connect(1, &[]);
    let s = video_sub(7, &net.clients[0], "cam-a", TrackPriority::Standard);
    let sid = s.track.to_string();
    let now = net.now;
    net.core.set_subscriptions(now, me, &[s]);
    net.run(Duration::from_millis(300));
    let layers = |net: &mut Net, from: u64, frames: u64| {
        let mut asked = net.clients[0].keyframe_requests;
        for n in from..from + frames {
            let requests = net.clients[0].keyframe_requests;
            net.send_video_layers(0, cam, n, n == from || requests > asked);
            asked = requests;
            net.run(Duration::from_millis(33));
        }
    };
    let recent = |net: &Net, mid: Mid| -> Vec<usize> {
        let sizes: Vec<usize> = net.clients[1]
            .sizes
            .iter()
            .filter(|(m, _)| *m == mid)
            .map(|(_, s)| *s)
            .collect();
        sizes[sizes.len().saturating_sub(10)..].to_vec()
    };
    layers(&mut net, 0, 60);
    let mid = mid_of(&net, 1, &sid);
    assert!(
        recent(&net, mid).iter().all(|s| *s == 2400),
        "the top layer by default: {:?}",
        recent(&net, mid)
    );

    render_hint(
        &mut net,
        1,
        1,
        &sid,
        json!({ "render_dimensions": { "width": 320, "height": 180 } }),
    );
    layers(&mut net, 60, 30);
    assert!(
        recent(&net, mid).iter().all(|s| *s == 600),
        "drawn at 320x180: the low layer: {:?}",
        recent(&net, mid)
    );
    let frames: Vec<_> = net.clients[1]
        .frames
        .iter()
        .filter(|f| f.0 == mid)
        .collect();
    assert!(
        frames.iter().rev().take(20).all(|f| f.2),
        "the stream stays contiguous across the switch"
    );

    render_hint(
        &mut net,
        1,
        2,
        &sid,
        json!({ "render_dimensions": { "width": 640, "height": 360 } }),
    );
    layers(&mut net, 90, 30);
    assert!(
        recent(&net, mid).iter().all(|s| *s == 1200),
        "drawn at 640x360: the middle layer: {:?}",
        recent(&net, mid)
    );
}
