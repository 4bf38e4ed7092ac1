//! The rooms-per-account cap (`[limits] max_rooms_per_account`) holds across the cluster: rooms are
//! counted in the database, whichever node made them, and creates racing on different nodes never
//! overshoot. Three vroom processes on one PostgreSQL database; skipped (saying so) without a
//! PostgreSQL server, except under `CI=true`.

use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::SignalClient;

use crate::cluster::{Node, start_nodes, within};
use crate::common::{test_credentials, token_for};

/// The cap every node of these tests runs with.
const CAP: usize = 4;

fn refused(answer: &(u16, serde_json::Value)) -> bool {
    answer.0 == 400 && answer.1["code"] == 53103
}

async fn in_progress(n: &Node) -> Vec<String> {
    let (status, list) = n.get("/v1/Rooms?Status=in-progress&PageSize=100").await;
    assert_eq!(status, 200, "{list}");
    let mut sids: Vec<String> = list["rooms"]
        .as_array()
        .expect("a rooms list")
        .iter()
        .map(|r| r["sid"].as_str().expect("a SID").to_owned())
        .collect();
    sids.sort();
    sids
}

#[tokio::test]
async fn the_room_cap_holds_across_three_nodes_even_for_creates_racing_on_all_of_them() {
    let Some(db) = ScratchDatabase::create("cluster room cap").await else {
        return;
    };
    let creds = test_credentials();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vroom.toml");
    std::fs::write(
        &config,
        format!("[limits]\nmax_rooms_per_account = {CAP}\n"),
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let ([na, nb, nc], children) = start_nodes::<3>(db.url(), &creds, &args).await;

    // Two rooms made on A, one on B and one by a client joining a new name through C: four rooms,
    // each run by another node than some of the others, fill the account's cap.
    for (n, name) in [(&na, "cap-0"), (&na, "cap-1"), (&nb, "cap-2")] {
        let (status, room) = n.post("/v1/Rooms", &[("UniqueName", name)]).await;
        assert_eq!(status, 201, "{name}: {room}");
    }
    let (_ad_hoc, m) =
        SignalClient::join(&nc.ws(), &token_for(&creds, "ada"), Some("cap-3"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");

    // Every node refuses a fifth, over REST and to a client naming a new room.
    for n in [&na, &nb, &nc] {
        let answer = n.post("/v1/Rooms", &[("UniqueName", "cap-4")]).await;
        assert!(refused(&answer), "node {}: {answer:?}", n.port);
        let (_c, m) =
            SignalClient::join(&n.ws(), &token_for(&creds, "bo"), Some("cap-5"), &[]).await;
        assert_eq!(
            (m["type"].as_str(), m["code"].as_i64()),
            (Some("error"), Some(53103)),
            "node {}: {m}",
            n.port
        );
    }
    // Rooms in progress are still joined through any node.
    let (_cy, m) = SignalClient::join(&nb.ws(), &token_for(&creds, "cy"), Some("cap-0"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");

    // A room ended on one node frees a place on every node: cap-0 (A's) is completed through C.
    let (status, done) = nc.post("/v1/Rooms/cap-0", &[("Status", "completed")]).await;
    assert_eq!(status, 202, "{done}");
    let (status, made) = nb.post("/v1/Rooms", &[("UniqueName", "cap-4")]).await;
    assert_eq!(status, 201, "the freed place is taken on B: {made}");
    let answer = na.post("/v1/Rooms", &[("UniqueName", "cap-6")]).await;
    assert!(refused(&answer), "and then the cap holds again: {answer:?}");

    // Every room ends; then 30 creates race, ten on each node at once: exactly CAP are made.
    for sid in in_progress(&na).await {
        let (status, done) = na
            .post(&format!("/v1/Rooms/{sid}"), &[("Status", "completed")])
            .await;
        assert_eq!(status, 202, "{done}");
    }
    within(10, "no room in progress", || async {
        in_progress(&nb).await.is_empty()
    })
    .await;
    let names: Vec<String> = (0..30).map(|i| format!("race-{i}")).collect();
    let nodes = [&na, &nb, &nc];
    let answers = futures::future::join_all(names.iter().enumerate().map(|(i, name)| {
        let n = nodes[i % 3];
        async move { n.post("/v1/Rooms", &[("UniqueName", name.as_str())]).await }
    }))
    .await;
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(created, CAP, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != 201)
            .all(refused),
        "every other create is refused with 53103: {answers:?}"
    );
    let seen = in_progress(&na).await;
    assert_eq!(seen.len(), CAP, "{seen:?}");
    for n in [&nb, &nc] {
        assert_eq!(
            in_progress(n).await,
            seen,
            "every node lists the same rooms"
        );
    }
    for mut child in children {
        child.kill().await.unwrap();
    }
    db.drop_now().await;
}
