//! Three vroom processes on one PostgreSQL database, one of them killed with SIGKILL while its
//! rooms have participants: the other two take its rooms over, close its participants, serve new
//! joins (through either of them: the one that does not run a room relays), and every room's
//! status callbacks carry on, each at least once and in order. Skipped (saying so) without a
//! PostgreSQL server, except under `CI=true`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::SignalClient;

use crate::cluster::{start_nodes, within};
use crate::common::{test_credentials, token_for};

/// Status callbacks as they arrived: (room SID, sequence number, event).
pub(crate) type Arrivals = Arc<Mutex<Vec<(String, u64, String)>>>;

pub(crate) async fn receiver() -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post({
            let arrivals = Arc::clone(&arrivals);
            move |axum::Form(form): axum::Form<HashMap<String, String>>| {
                let arrivals = Arc::clone(&arrivals);
                async move {
                    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
                    let seq = field("SequenceNumber").parse().unwrap_or(u64::MAX);
                    arrivals.lock().unwrap().push((
                        field("RoomSid"),
                        seq,
                        field("StatusCallbackEvent"),
                    ));
                    "ok"
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, arrivals)
}

/// Each room's sequence numbers in the order they first arrived (a redelivery after a node died is
/// allowed: delivery is at least once).
pub(crate) fn per_room(arrivals: &[(String, u64, String)]) -> BTreeMap<String, Vec<(u64, String)>> {
    let mut rooms: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for (room, seq, event) in arrivals {
        let seen = rooms.entry(room.clone()).or_default();
        if !seen.iter().any(|(s, _)| s == seq) {
            seen.push((*seq, event.clone()));
        }
    }
    rooms
}

#[tokio::test]
async fn three_nodes_carry_on_when_one_is_killed() {
    let Some(db) = ScratchDatabase::create("cluster three").await else {
        return;
    };
    let creds = test_credentials();
    let (url, arrivals) = receiver().await;
    let ([na, nb, nc], [mut a, mut b, mut c]) = start_nodes(db.url(), &creds, &[]).await;

    // Node A runs three rooms, each with a participant joined through A and one relayed through
    // B; node C runs one of its own.
    let mut rooms = Vec::new();
    let mut clients = Vec::new();
    let mut on_a = Vec::new();
    for i in 0..3 {
        let name = format!("three-{i}");
        let (status, room) = na
            .post(
                "/v1/Rooms",
                &[
                    ("UniqueName", name.as_str()),
                    ("StatusCallback", url.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 201, "{room}");
        rooms.push(room["sid"].as_str().unwrap().to_owned());
        for (n, who) in [(&na, "ann"), (&nb, "ben")] {
            let (client, m) =
                SignalClient::join(&n.ws(), &token_for(&creds, who), Some(&name), &[]).await;
            assert_eq!(m["type"], "connected", "{m}");
            on_a.push((
                name.clone(),
                m["participant"]["sid"].as_str().unwrap().to_owned(),
            ));
            clients.push(client.keep_alive());
        }
    }
    let (status, own) = nc
        .post(
            "/v1/Rooms",
            &[("UniqueName", "three-c"), ("StatusCallback", url.as_str())],
        )
        .await;
    assert_eq!(status, 201, "{own}");
    let (cara, m) =
        SignalClient::join(&nc.ws(), &token_for(&creds, "cara"), Some("three-c"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    let cara_sid = m["participant"]["sid"].as_str().unwrap().to_owned();
    let cara = cara.keep_alive();
    // room-created and two participant-connected per room of A, two for C's.
    within(20, "the first callbacks", || {
        let arrivals = Arc::clone(&arrivals);
        async move { arrivals.lock().unwrap().len() >= 3 * 3 + 2 }
    })
    .await;

    // Node A dies. Its rooms are taken over by B or C once their leases lapse (10 s): its
    // participants are closed, and new joins work through both remaining nodes.
    a.kill().await.unwrap();
    for (name, sid) in &on_a {
        let path = format!("/v1/Rooms/{name}/Participants/{sid}");
        within(40, "node A's participants closed", || {
            let nb = &nb;
            let path = path.clone();
            async move { nb.get(&path).await.1["status"] == "disconnected" }
        })
        .await;
    }
    for (i, n) in [&nb, &nc, &nb].into_iter().enumerate() {
        let name = format!("three-{i}");
        let (client, m) =
            SignalClient::join(&n.ws(), &token_for(&creds, "dee"), Some(&name), &[]).await;
        assert_eq!(
            m["type"], "connected",
            "{name} through node {}: {m}",
            n.port
        );
        client.leave().await;
    }
    // Node C's own room was never disturbed.
    let (_, p) = nb
        .get(&format!("/v1/Rooms/three-c/Participants/{cara_sid}"))
        .await;
    assert_eq!(p["status"], "connected", "{p}");
    cara.abort();

    // The rooms end (asked of either node), and their callbacks come to the end, in order.
    for (i, sid) in rooms.iter().enumerate() {
        let n = if i % 2 == 0 { &nb } else { &nc };
        let (status, done) = n
            .post(&format!("/v1/Rooms/{sid}"), &[("Status", "completed")])
            .await;
        assert_eq!(status, 202, "{done}");
    }
    within(30, "every room's room-ended", || {
        let arrivals = Arc::clone(&arrivals);
        let rooms = rooms.clone();
        async move {
            let got = arrivals.lock().unwrap();
            rooms.iter().all(|r| {
                got.iter()
                    .any(|(room, _, e)| room == r && e == "room-ended")
            })
        }
    })
    .await;
    let got = per_room(&arrivals.lock().unwrap());
    for sid in &rooms {
        let seen = &got[sid];
        let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
        let want: Vec<u64> = (0..u64::try_from(seqs.len()).unwrap()).collect();
        assert_eq!(seqs, want, "{sid}: every event, in order: {seen:?}");
        let events: Vec<&str> = seen.iter().map(|(_, e)| e.as_str()).collect();
        assert_eq!(events.first(), Some(&"room-created"), "{events:?}");
        assert_eq!(events.last(), Some(&"room-ended"), "{events:?}");
        // Both of A's participants, the newcomer: three connected, three disconnected.
        for kind in ["participant-connected", "participant-disconnected"] {
            assert_eq!(
                events.iter().filter(|e| **e == kind).count(),
                3,
                "{sid}: {events:?}"
            );
        }
    }
    for client in clients {
        client.abort();
    }
    b.kill().await.unwrap();
    c.kill().await.unwrap();
    db.drop_now().await;
}
