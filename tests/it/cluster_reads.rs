//! REST reads on any node of a cluster answer alike: rooms (in progress, ended, by SID and by
//! name, listed), participants, their published and subscribed tracks and subscribe rules, the
//! recording rules and recordings, whether the room runs on the node asked, on another one, or on
//! none. Three vroom processes on one PostgreSQL database; skipped (saying so) without a PostgreSQL
//! server, except under `CI=true`.

use serde_json::Value;
use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::{SignalClient, track};

use crate::cluster::{start_nodes, within};
use crate::common::{test_credentials, token_for};

/// `body` with every node's own address replaced, so the answers of different nodes compare.
fn alike(body: &Value, ports: &[u16]) -> String {
    let mut text = body.to_string();
    for port in ports {
        text = text.replace(&format!("127.0.0.1:{port}"), "NODE");
    }
    text
}

#[tokio::test]
async fn every_node_answers_every_rest_read_alike() {
    let Some(db) = ScratchDatabase::create("cluster reads").await else {
        return;
    };
    let creds = test_credentials();
    let ([na, nb, nc], children) = start_nodes::<3>(db.url(), &creds, &[]).await;
    let ports = [na.port, nb.port, nc.port];

    // A room run by A with alice (through A) and bob (through C), each with a track; an empty
    // room run by C; a room made on B and ended.
    let (status, room) = na.post("/v1/Rooms", &[("UniqueName", "reads")]).await;
    assert_eq!(status, 201, "{room}");
    let sid = room["sid"].as_str().unwrap().to_owned();
    let (alice, am) = SignalClient::join(
        &na.ws(),
        &token_for(&creds, "alice"),
        Some("reads"),
        &[track("a1", "audio", "mic")],
    )
    .await;
    assert_eq!(am["type"], "connected", "{am}");
    let alice_sid = am["participant"]["sid"].as_str().unwrap().to_owned();
    let alice_track = am["published"]["tracks"][0]["sid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (bob, bm) = SignalClient::join(
        &nc.ws(),
        &token_for(&creds, "bob"),
        Some("reads"),
        &[track("b1", "video", "cam")],
    )
    .await;
    assert_eq!(bm["type"], "connected", "{bm}");
    let bob_sid = bm["participant"]["sid"].as_str().unwrap().to_owned();
    let (_alice, _bob) = (alice.keep_alive(), bob.keep_alive());
    let (status, other) = nc.post("/v1/Rooms", &[("UniqueName", "reads-c")]).await;
    assert_eq!(status, 201, "{other}");
    let (status, ended) = nb.post("/v1/Rooms", &[("UniqueName", "reads-b")]).await;
    assert_eq!(status, 201, "{ended}");
    let ended = ended["sid"].as_str().unwrap().to_owned();
    let (status, done) = nb
        .post(&format!("/v1/Rooms/{ended}"), &[("Status", "completed")])
        .await;
    assert_eq!(status, 202, "{done}");
    let published = format!("/v1/Rooms/{sid}/Participants/{bob_sid}/PublishedTracks");
    within(10, "bob's track published", || async {
        na.get(&published).await.1["published_tracks"]
            .as_array()
            .is_some_and(|t| !t.is_empty())
    })
    .await;

    let p = |who: &str, rest: &str| format!("/v1/Rooms/{sid}/Participants/{who}{rest}");
    let paths = [
        "/v1/Rooms".to_owned(),
        "/v1/Rooms?Status=in-progress".to_owned(),
        "/v1/Rooms?Status=completed".to_owned(),
        "/v1/Rooms?UniqueName=reads".to_owned(),
        format!("/v1/Rooms/{sid}"),
        "/v1/Rooms/reads".to_owned(),
        "/v1/Rooms/reads-c".to_owned(),
        format!("/v1/Rooms/{ended}"),
        format!("/v1/Rooms/{sid}/Participants"),
        format!("/v1/Rooms/{sid}/Participants?Status=connected"),
        format!("/v1/Rooms/{sid}/Participants?Identity=bob"),
        p(&alice_sid, ""),
        p(&bob_sid, ""),
        p(&alice_sid, "/PublishedTracks"),
        p(&alice_sid, &format!("/PublishedTracks/{alice_track}")),
        p(&bob_sid, "/PublishedTracks"),
        p(&bob_sid, "/SubscribedTracks"),
        p(&alice_sid, "/SubscribeRules"),
        format!("/v1/Rooms/{sid}/RecordingRules"),
        format!("/v1/Rooms/{sid}/Recordings"),
        format!("/v1/Rooms/{ended}/Participants"),
        "/v1/Recordings".to_owned(),
    ];
    for path in &paths {
        let (status, first) = na.get(path).await;
        assert_eq!(status, 200, "{path} on A: {first}");
        let want = alike(&first, &ports);
        for n in [&nb, &nc] {
            let (status, body) = n.get(path).await;
            assert_eq!(status, 200, "{path} on node {}: {body}", n.port);
            assert_eq!(alike(&body, &ports), want, "{path} on node {}", n.port);
        }
    }
    // Both participants are listed as connected wherever one asks.
    let (_, listed) = nb
        .get(&format!("/v1/Rooms/{sid}/Participants?Status=connected"))
        .await;
    assert_eq!(
        listed["participants"].as_array().map(Vec::len),
        Some(2),
        "{listed}"
    );
    for mut child in children {
        child.kill().await.unwrap();
    }
    db.drop_now().await;
}
