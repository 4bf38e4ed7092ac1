//! Participant reads answered again from memory (`vroom-api`'s `cache.rs`) are never stale: every
//! change to the room or its participants shows in the very next read, whether this server made
//! it, another node on the same database, or someone by hand behind the server's back.

use reqwest::StatusCode;
use serde_json::Value;
use vroom_domain::participant::Participant;
use vroom_store::Change;
use vroom_testkit::SignalClient;

use crate::common::TestServer;

/// The identities and statuses a page lists, in order.
fn listed(page: &Value) -> Vec<(String, String)> {
    page["participants"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|p| {
            let field = |k: &str| p[k].as_str().unwrap_or_default().to_owned();
            (field("identity"), field("status"))
        })
        .collect()
}

#[tokio::test]
async fn repeated_participant_reads_follow_every_change_at_once() {
    let s = TestServer::start().await;
    let room = s.create_room(&[("UniqueName", "cached")]).await;
    let rsid = room["sid"].as_str().unwrap().to_owned();
    let mut sids = Vec::new();
    let mut clients = Vec::new();
    for who in ["alice", "bob"] {
        let (c, connected) =
            SignalClient::join(&s.ws, &s.token(who, None), Some("cached"), &[]).await;
        sids.push(connected["participant"]["sid"].as_str().unwrap().to_owned());
        clients.push(c);
    }
    let (alice, bob) = (sids[0].clone(), sids[1].clone());
    let list = format!("/v1/Rooms/{rsid}/Participants");
    let gone = format!("/v1/Rooms/{rsid}/Participants?Status=disconnected");
    let one = |p: &str| format!("/v1/Rooms/{rsid}/Participants/{p}");
    let pair = |who: &str, status: &str| (who.to_owned(), status.to_owned());
    // Read twice or more: the second answer of each is the one kept.
    for _ in 0..3 {
        let (status, page) = s.get(&list).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            listed(&page),
            [pair("bob", "connected"), pair("alice", "connected")]
        );
        let (_, a) = s.get(&one(&alice)).await;
        assert_eq!(a["status"], "connected");
        let (_, a) = s.get(&one("alice")).await;
        assert_eq!(a["sid"].as_str(), Some(alice.as_str()), "by identity");
    }

    // This server's change: a kick, then an anonymization.
    let (status, _) = s.post(&one(&alice), &[("Status", "disconnected")]).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, page) = s.get(&list).await;
    assert_eq!(listed(&page), [pair("bob", "connected")]);
    let (_, a) = s.get(&one(&alice)).await;
    assert_eq!(a["status"], "disconnected");
    let (status, _) = s.get(&one("alice")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "by identity: connected only");
    let (_, page) = s.get(&gone).await;
    assert_eq!(listed(&page), [pair("alice", "disconnected")]);
    s.post(&format!("{}/Anonymize", one(&alice)), &[]).await;
    let (_, a) = s.get(&one(&alice)).await;
    assert_eq!(a["identity"].as_str(), Some(alice.as_str()));
    let (_, page) = s.get(&gone).await;
    assert_eq!(listed(&page), [pair(&alice, "disconnected")]);

    // Another node's change, on the same database.
    let other = vroom_store::open(&s.db_url).await.unwrap();
    let mut b: Participant = other
        .participant(bob.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    b.identity = "bob-elsewhere".into();
    other
        .apply(&[Change::UpdateParticipant(b)], &[])
        .await
        .unwrap();
    let (_, page) = s.get(&list).await;
    assert_eq!(listed(&page), [pair("bob-elsewhere", "connected")]);
    let (_, got) = s.get(&one(&bob)).await;
    assert_eq!(got["identity"], "bob-elsewhere");

    // By hand, behind every vroom's back (an SQLite file here; PostgreSQL's triggers are covered
    // by the store suite's version checks on both backends).
    if let Some(path) = s.db_url.strip_prefix("sqlite://") {
        let db = rusqlite::Connection::open(path).unwrap();
        db.execute(
            "UPDATE participants SET identity = 'bob-by-hand' WHERE sid = ?1",
            [&bob],
        )
        .unwrap();
        let (_, page) = s.get(&list).await;
        assert_eq!(listed(&page), [pair("bob-by-hand", "connected")]);
        let (_, got) = s.get(&one(&bob)).await;
        assert_eq!(got["identity"], "bob-by-hand");
    }

    // The room's end changes what its default list shows.
    s.post(&format!("/v1/Rooms/{rsid}"), &[("Status", "completed")])
        .await;
    let (_, page) = s.get(&list).await;
    assert!(
        listed(&page)
            .iter()
            .all(|(_, status)| status == "disconnected")
            && listed(&page).len() == 2,
        "{page}"
    );
    drop(clients);
}
