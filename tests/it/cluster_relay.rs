//! Signaling that reaches a node which does not run the room: the node relays the connection to
//! the room's node, so participants signaling through different nodes share one room — they see
//! each other, publish, are kicked, replaced by the same identity and told the room ended, and a
//! dropped client resumes through either node. Two vroom processes on one PostgreSQL database;
//! skipped (saying so) without a PostgreSQL server, except under `CI=true`.

use serde_json::{Value, json};
use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::{SignalClient, track};

use crate::cluster::start_nodes;
use crate::common::{test_credentials, token_for};

fn sid(v: &Value) -> String {
    v["participant"]["sid"]
        .as_str()
        .expect("a participant SID")
        .to_owned()
}

#[tokio::test]
async fn signaling_through_a_node_that_does_not_run_the_room_is_relayed_to_it() {
    let Some(db) = ScratchDatabase::create("cluster relay").await else {
        return;
    };
    let creds = test_credentials();
    let ([na, nb], [mut a, mut b]) = start_nodes(db.url(), &creds, &[]).await;
    let (status, room) = na.post("/v1/Rooms", &[("UniqueName", "relayed")]).await;
    assert_eq!(status, 201, "{room}");
    let (mut alice, am) = SignalClient::join(
        &na.ws(),
        &token_for(&creds, "alice"),
        Some("relayed"),
        &[track("a1", "audio", "mic")],
    )
    .await;
    assert_eq!(am["type"], "connected", "{am}");

    // Bob signals through node B, which does not run the room: he is in node A's room, with
    // alice and her track, and alice is told of him.
    let (mut bob, bm) =
        SignalClient::join(&nb.ws(), &token_for(&creds, "bob"), Some("relayed"), &[]).await;
    assert_eq!(bm["type"], "connected", "{bm}");
    assert_eq!(bm["sid"], room["sid"], "{bm}");
    assert_eq!(bm["participants"][0]["identity"], "alice", "{bm}");
    assert_eq!(
        bm["participants"][0]["tracks"][0]["sid"], am["published"]["tracks"][0]["sid"],
        "{bm}"
    );
    let seen = alice.next_participant().await.expect("a participant state");
    assert_eq!(
        (seen["identity"].as_str(), seen["state"].as_str()),
        (Some("bob"), Some("connected")),
        "{seen}"
    );

    // What bob sends reaches the room: his track is acknowledged and alice learns of it.
    bob.update_tracks(2, &[track("b1", "audio", "mic")]).await;
    let ack = bob
        .next_of("update")
        .await
        .expect("bob's track acknowledged");
    let bob_track = ack["published"]["tracks"][0]["sid"].clone();
    assert!(bob_track.is_string(), "{ack}");
    let seen = alice.next_participant().await.expect("a participant state");
    assert_eq!(seen["tracks"][0]["sid"], bob_track, "{seen}");

    // REST on either node sees both, connected.
    for n in [&na, &nb] {
        let (status, list) = n
            .get("/v1/Rooms/relayed/Participants?Status=connected")
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(
            list["participants"].as_array().map(Vec::len),
            Some(2),
            "{list}"
        );
    }

    // A kick issued on node B reaches bob through the relay.
    let (status, kicked) = nb
        .post(
            &format!("/v1/Rooms/relayed/Participants/{}", sid(&bm)),
            &[("Status", "disconnected")],
        )
        .await;
    assert_eq!(status, 202, "{kicked}");
    let told = bob.next_of("error").await.expect("bob is told");
    assert_eq!(told["code"], 53204, "{told}");
    let gone = alice.next_participant().await.expect("a participant state");
    assert_eq!(gone["state"], "disconnected", "{gone}");
    bob.leave().await;

    // Carol joins through B; then the room's node dies: her relayed connection closes with a
    // code that makes twilio-video.js try to resume (not 1000).
    let (mut carol, cm) =
        SignalClient::join(&nb.ws(), &token_for(&creds, "carol"), Some("relayed"), &[]).await;
    assert_eq!(cm["type"], "connected", "{cm}");
    a.kill().await.unwrap();
    let closed = carol.closed().await.expect("a close frame");
    assert_ne!(u16::from(closed.code), 1000, "{closed:?}");
    drop(alice);
    b.kill().await.unwrap();
    db.drop_now().await;
}

#[tokio::test]
async fn identity_takeover_completion_and_resume_across_nodes() {
    let Some(db) = ScratchDatabase::create("cluster relay takeover").await else {
        return;
    };
    let creds = test_credentials();
    let ([na, nb], [mut a, mut b]) = start_nodes(db.url(), &creds, &[]).await;
    let (status, room) = na.post("/v1/Rooms", &[("UniqueName", "twice")]).await;
    assert_eq!(status, 201, "{room}");
    let (mut dan, dm) =
        SignalClient::join(&na.ws(), &token_for(&creds, "dan"), Some("twice"), &[]).await;
    assert_eq!(dm["type"], "connected", "{dm}");
    let (mut old, om) =
        SignalClient::join(&na.ws(), &token_for(&creds, "eve"), Some("twice"), &[]).await;
    assert_eq!(om["type"], "connected", "{om}");
    assert_eq!(
        dan.next_participant().await.expect("a participant state")["identity"],
        "eve"
    );

    // The same identity joins through node B: the session on node A ends with 53205.
    let (mut eve, em) =
        SignalClient::join(&nb.ws(), &token_for(&creds, "eve"), Some("twice"), &[]).await;
    assert_eq!(em["type"], "connected", "{em}");
    let told = old
        .next_of("error")
        .await
        .expect("the older session is told");
    assert_eq!(told["code"], 53205, "{told}");
    old.leave().await;
    let (_, p) = nb
        .get(&format!("/v1/Rooms/twice/Participants/{}", sid(&om)))
        .await;
    assert_eq!(p["status"], "disconnected", "{p}");

    // Dan's connection drops; he resumes through node B, which relays the sync to node A.
    let session = dan.session.clone().expect("a session key");
    dan.drop_connection();
    let reconnecting = eve.next_participant().await.expect("a participant state");
    assert_eq!(reconnecting["state"], "reconnecting", "{reconnecting}");
    let mut back = SignalClient::open(&nb.ws()).await.unwrap();
    back.hello(json!({
        "name": "twice", "participant": {"revision": 1, "tracks": []},
        "peer_connections": [], "type": "sync", "version": 2, "session": session,
        "token": token_for(&creds, "dan"),
    }))
    .await;
    assert_eq!(back.next_frame().await.unwrap()["type"], "welcome");
    let synced = back.next_msg().await.unwrap();
    assert_eq!(synced["type"], "synced", "{synced}");
    assert_eq!(synced["participants"][0]["identity"], "eve", "{synced}");
    let again = eve.next_participant().await.expect("a participant state");
    assert_eq!(
        (again["sid"].as_str(), again["state"].as_str()),
        (Some(sid(&dm).as_str()), Some("connected")),
        "{again}"
    );

    // The room is completed on node B: both relayed sessions are told, and closed.
    let (status, done) = nb.post("/v1/Rooms/twice", &[("Status", "completed")]).await;
    assert_eq!(status, 202, "{done}");
    for c in [&mut eve, &mut back] {
        let d = c
            .next_of("disconnected")
            .await
            .expect("told the room ended");
        assert_eq!(d["status"], "completed", "{d}");
        assert_eq!(c.closed().await.map(|f| u16::from(f.code)), Some(1000));
    }
    a.kill().await.unwrap();
    b.kill().await.unwrap();
    db.drop_now().await;
}

/// twilio-video.js in two Chromium pages signaling through two different nodes into one room
/// (tests/browser/cluster.js): both are in the room node A runs, and each receives and shows the
/// other's audio and video.
#[tokio::test(flavor = "multi_thread")]
async fn two_twilio_video_js_pages_signaling_through_different_nodes_see_and_hear_each_other() {
    use std::time::Duration;

    use crate::browser::browser_dir;
    use crate::external::{require_installed, run_to_end};

    let dir = browser_dir();
    require_installed(
        "the cluster browser test needs Chromium and tests/browser's npm packages",
        &[
            "/usr/bin/chromium".into(),
            dir.join("node_modules/playwright-core/package.json"),
        ],
    );
    let Some(db) = ScratchDatabase::create("cluster browsers").await else {
        return;
    };
    let creds = test_credentials();
    let ([na, nb], [mut a, mut b]) = start_nodes(db.url(), &creds, &[]).await;
    let describe = |port: u16| {
        json!({
            "baseUrl": format!("http://127.0.0.1:{port}"),
            "accountSid": creds.account_sid.to_string(),
            "apiKeySid": creds.api_key_sid.to_string(),
            "apiKeySecret": creds.api_key_secret,
        })
    };
    let servers = json!({"a": describe(na.port), "b": describe(nb.port)});
    let one_browser = crate::browser::ONE_BROWSER_AT_A_TIME.lock().await;
    let out = run_to_end(
        tokio::process::Command::new("node")
            .arg("cluster.js")
            .current_dir(&dir)
            .env("VROOM_SERVERS", servers.to_string()),
        "tests/browser/cluster.js",
        Duration::from_secs(180),
    )
    .await;
    assert!(out.contains("cluster passed"), "{out}");
    println!("{out}");
    drop(one_browser);
    a.kill().await.unwrap();
    b.kill().await.unwrap();
    db.drop_now().await;
}
