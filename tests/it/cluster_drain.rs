//! A node stopped with SIGTERM while a participant signals through another node: the room's node
//! ends the relayed participant's session with an error (not a hang), records it, hands the room
//! over, and takes no new room while it drains. Two vroom processes on one PostgreSQL database;
//! skipped (saying so) without a PostgreSQL server, except under `CI=true`.

use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::SignalClient;

use crate::cluster::{start_nodes, within};
use crate::common::{exits_cleanly, sigterm, test_credentials, token_for};

#[tokio::test]
async fn a_node_stopped_with_sigterm_ends_its_relayed_sessions_and_takes_no_new_room() {
    let Some(db) = ScratchDatabase::create("cluster drain").await else {
        return;
    };
    let creds = test_credentials();
    let ([na, nb], [mut a, mut b]) = start_nodes(db.url(), &creds, &[]).await;
    let (status, room) = na.post("/v1/Rooms", &[("UniqueName", "drained")]).await;
    assert_eq!(status, 201, "{room}");
    // Hana signals through node B, which relays her to node A, the room's node.
    let (mut hana, m) =
        SignalClient::join(&nb.ws(), &token_for(&creds, "hana"), Some("drained"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    assert_eq!(m["sid"], room["sid"], "{m}");
    let hana_sid = m["participant"]["sid"].as_str().unwrap().to_owned();

    // A room create on node A whose body has not all arrived when the stop begins: in flight.
    let mut late = tokio::net::TcpStream::connect(("127.0.0.1", na.port))
        .await
        .unwrap();
    let body = "UniqueName=too-late";
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", creds.api_key_sid, creds.api_key_secret));
    let head = format!(
        "POST /v1/Rooms HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Basic {auth}\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    late.write_all(head.as_bytes()).await.unwrap();
    late.write_all(&body.as_bytes()[..4]).await.unwrap();
    // hyper has read the headers and the handler waits for the rest of the form.
    tokio::time::sleep(Duration::from_millis(300)).await;

    sigterm(&a);
    // The listener closes at the stop, after the node stopped taking rooms.
    within(10, "node A refuses new connections", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", na.port))
            .await
            .is_err()
    })
    .await;
    late.write_all(&body.as_bytes()[4..]).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), late.read_to_string(&mut answer))
        .await
        .expect("the request in flight is answered")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"code\":20503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );

    // The relayed participant is told her session is over (twilio-video.js then disconnects the
    // room at once), and her connection closes without her saying goodbye: nothing hangs.
    let told = hana.next_of("error").await.expect("hana is told");
    assert_eq!(told["code"], 53000, "{told}");
    let closed = tokio::time::timeout(Duration::from_secs(15), hana.closed())
        .await
        .expect("hana's connection closes");
    assert!(closed.is_some(), "a close frame, not a broken connection");
    exits_cleanly(&mut a, 15).await;

    // REST (on the node left) shows her disconnected, by the stop; the room lives on, handed
    // over: a join through node B works at once, with no lease to wait for.
    let (status, p) = nb
        .get(&format!("/v1/Rooms/drained/Participants/{hana_sid}"))
        .await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("disconnected")),
        "{p}"
    );
    assert_eq!(nb.get("/v1/Rooms/drained").await.1["status"], "in-progress");
    let (_ivo, m) =
        SignalClient::join(&nb.ws(), &token_for(&creds, "ivo"), Some("drained"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    let (status, list) = nb
        .get("/v1/Rooms/drained/Participants?Status=connected")
        .await;
    assert_eq!(status, 200, "{list}");
    let connected: Vec<&str> = list["participants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["identity"].as_str())
        .collect();
    assert_eq!(connected, ["ivo"], "{list}");
    // The create that arrived during the drain made no room.
    let (status, none) = nb.get("/v1/Rooms/too-late").await;
    assert_eq!(status, 404, "{none}");
    b.kill().await.unwrap();
    db.drop_now().await;
}
