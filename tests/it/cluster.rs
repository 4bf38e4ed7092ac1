//! Several vroom processes on one PostgreSQL database: what one node runs, the others see and leave
//! alone; the rooms of a node killed with SIGKILL are taken over once its leases expire; each
//! status callback is sent by one node. Skipped (saying so) without a PostgreSQL server, except
//! under `CI=true`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use vroom_store::StoredCredentials;
use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::SignalClient;

use crate::common::{exits_cleanly, sigterm, spawn_vroom_with, test_credentials, token_for};

/// REST on one node.
pub(crate) struct Node {
    pub(crate) port: u16,
    creds: StoredCredentials,
    http: reqwest::Client,
}

impl Node {
    pub(crate) fn new(port: u16, creds: &StoredCredentials) -> Self {
        Self {
            port,
            creds: creds.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/signaling", self.port)
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let r = self
            .http
            .request(method, format!("http://127.0.0.1:{}{path}", self.port))
            .basic_auth(
                self.creds.api_key_sid.to_string(),
                Some(&self.creds.api_key_secret),
            )
            .form(form)
            .send()
            .await
            .expect("the node answers");
        let status = r.status().as_u16();
        (status, r.json().await.expect("a JSON body"))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, &[]).await
    }

    pub(crate) async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, form).await
    }
}

/// `N` distinct free ports ([`crate::common::free_port`] never hands one out twice).
pub(crate) fn ports<const N: usize>() -> [u16; N] {
    std::array::from_fn(|_| crate::common::free_port())
}

/// Two distinct free ports.
pub(crate) fn two_ports() -> (u16, u16) {
    let [a, b] = ports();
    (a, b)
}

/// A vroom process on `port` and `db`, announcing its address to the other nodes.
pub(crate) async fn node(port: u16, db: &str, creds: &StoredCredentials) -> tokio::process::Child {
    node_with(port, db, creds, &[]).await
}

/// A vroom process on `port` and `db`, announcing its address, with `extra` arguments.
pub(crate) async fn node_with(
    port: u16,
    db: &str,
    creds: &StoredCredentials,
    extra: &[&str],
) -> tokio::process::Child {
    let url = format!("http://127.0.0.1:{port}");
    let mut args = vec!["--public-url", url.as_str()];
    args.extend_from_slice(extra);
    spawn_vroom_with(port, db, creds, &args).await
}

/// `N` nodes on `db` (each started with `extra` arguments), and a REST client for each, in the
/// same order.
pub(crate) async fn start_nodes<const N: usize>(
    db: &str,
    creds: &StoredCredentials,
    extra: &[&str],
) -> ([Node; N], [tokio::process::Child; N]) {
    let ports = ports::<N>();
    let mut children = Vec::with_capacity(N);
    for port in ports {
        children.push(node_with(port, db, creds, extra).await);
    }
    let children = children.try_into().expect("one process per port");
    (ports.map(|p| Node::new(p, creds)), children)
}

/// Polls `check` every 100 ms for up to `secs` seconds, until it gives a value.
pub(crate) async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..secs * 10 {
        if let Some(v) = check().await {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {secs} s waiting for: {what}");
}

/// Polls `check` every 100 ms for up to `secs` seconds, until it holds.
pub(crate) async fn within<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    eventually(secs, what, || {
        let fut = check();
        async move { fut.await.then_some(()) }
    })
    .await;
}

#[tokio::test]
async fn nodes_share_rooms_and_take_over_the_rooms_of_a_killed_node() {
    let Some(db) = ScratchDatabase::create("cluster takeover").await else {
        return;
    };
    let creds = test_credentials();
    let (pa, pb) = two_ports();
    let mut a = node(pa, db.url(), &creds).await;
    let (na, nb) = (Node::new(pa, &creds), Node::new(pb, &creds));
    let (status, room) = na.post("/v1/Rooms", &[("UniqueName", "shared")]).await;
    assert_eq!(status, 201, "{room}");
    let (mut alice_client, m) =
        SignalClient::join(&na.ws(), &token_for(&creds, "alice"), Some("shared"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    let alice = m["participant"]["sid"].as_str().unwrap().to_owned();
    let (_carol_client, m) =
        SignalClient::join(&na.ws(), &token_for(&creds, "carol"), Some("shared"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    let carol = m["participant"]["sid"].as_str().unwrap().to_owned();

    // A second node starts: it sees the first node's room and participant, and leaves them be.
    let mut b = node(pb, db.url(), &creds).await;
    let path = format!("/v1/Rooms/shared/Participants/{alice}");
    let (status, p) = nb.get(&path).await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("connected")),
        "{p}"
    );
    let (status, listed) = nb.get("/v1/Rooms?Status=in-progress").await;
    assert_eq!(status, 200);
    assert_eq!(listed["rooms"][0]["sid"], room["sid"], "{listed}");
    // A change only the room's node can make, asked of the other node, is relayed to it: the
    // kick takes effect on the room's node at once, and alice's client is told.
    let (status, kicked) = nb.post(&path, &[("Status", "disconnected")]).await;
    assert_eq!(
        (status, kicked["status"].as_str()),
        (202, Some("disconnected")),
        "{kicked}"
    );
    let told = alice_client.next_of("error").await.expect("alice is told");
    assert_eq!(told["code"], 53204, "{told}");
    alice_client.leave().await;
    let path = format!("/v1/Rooms/shared/Participants/{carol}");
    assert_eq!(na.get(&path).await.1["status"], "connected");

    // The room's node dies. Once its lease has lapsed, the other node takes the room over: a join
    // through it works, and the dead node's participant (carol) is closed.
    a.kill().await.unwrap();
    // Nobody asks for the room: the surviving node takes it over by itself once the lease has
    // lapsed, and closes the dead node's participant.
    within(30, "the dead node's participant closed", || async {
        nb.get(&path).await.1["status"] == "disconnected"
    })
    .await;
    let bob_token = token_for(&creds, "bob");
    let bob = eventually(30, "a join through the surviving node", || async {
        let (client, m) = SignalClient::join(&nb.ws(), &bob_token, Some("shared"), &[]).await;
        (m["type"] == "connected").then_some(client)
    })
    .await;
    let (status, p) = nb.get(&path).await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("disconnected")),
        "{p}"
    );
    assert_eq!(
        nb.get("/v1/Rooms/shared").await.1["status"],
        "in-progress",
        "the room lives on"
    );
    drop(bob);
    b.kill().await.unwrap();
    db.drop_now().await;
}

/// Status callbacks received, by (room SID, sequence number), counted.
type Received = Arc<Mutex<HashMap<(String, u64), usize>>>;

async fn receiver() -> (String, Received) {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post({
            let received = Arc::clone(&received);
            move |axum::Form(form): axum::Form<HashMap<String, String>>| {
                let received = Arc::clone(&received);
                async move {
                    // A slow receiver keeps events pending a while, in sight of both dispatchers.
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    let room = form.get("RoomSid").cloned().unwrap_or_default();
                    let seq = form
                        .get("SequenceNumber")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(u64::MAX);
                    *received.lock().unwrap().entry((room, seq)).or_default() += 1;
                    "ok"
                }
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn each_status_callback_is_sent_by_one_node() {
    let Some(db) = ScratchDatabase::create("cluster callbacks").await else {
        return;
    };
    let creds = test_credentials();
    let (url, received) = receiver().await;
    let (nodes, [mut a, mut b]) = start_nodes::<2>(db.url(), &creds, &[]).await;
    // Rooms made and ended on both nodes: two events each (room-created, room-ended), stored by
    // either node and visible to both dispatchers.
    let mut rooms = Vec::new();
    for i in 0..20 {
        let node = &nodes[i % 2];
        let (status, room) = node
            .post("/v1/Rooms", &[("StatusCallback", url.as_str())])
            .await;
        assert_eq!(status, 201, "{room}");
        let sid = room["sid"].as_str().unwrap().to_owned();
        let (status, done) = node
            .post(&format!("/v1/Rooms/{sid}"), &[("Status", "completed")])
            .await;
        assert_eq!(status, 202, "{done}");
        rooms.push(sid);
    }
    within(30, "every event delivered", || {
        let received = Arc::clone(&received);
        let expected = rooms.len() * 2;
        async move { received.lock().unwrap().len() >= expected }
    })
    .await;
    // A moment more for any duplicate to arrive, then: every event once, none twice.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = received.lock().unwrap().clone();
    for sid in &rooms {
        for seq in [0, 1] {
            assert_eq!(
                got.get(&(sid.clone(), seq)).copied(),
                Some(1),
                "event {seq} of {sid}: {got:?}"
            );
        }
    }
    assert_eq!(got.len(), rooms.len() * 2, "{got:?}");
    a.kill().await.unwrap();
    b.kill().await.unwrap();
    db.drop_now().await;
}

#[tokio::test]
async fn a_node_restarted_with_its_id_takes_its_rooms_back_at_once() {
    let Some(db) = ScratchDatabase::create("cluster restart").await else {
        return;
    };
    let creds = test_credentials();
    let [port] = ports();
    let url = format!("http://127.0.0.1:{port}");
    let args = ["--public-url", url.as_str(), "--node-id", "vroom-1"];
    let mut first = spawn_vroom_with(port, db.url(), &creds, &args).await;
    let n = Node::new(port, &creds);
    let (status, room) = n.post("/v1/Rooms", &[("UniqueName", "again")]).await;
    assert_eq!(status, 201, "{room}");
    let (_client, m) =
        SignalClient::join(&n.ws(), &token_for(&creds, "dora"), Some("again"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    let dora = m["participant"]["sid"].as_str().unwrap().to_owned();
    first.kill().await.unwrap();

    // Its lease is still in force, but it is the node's own: the restart takes the room back and
    // closes the participant the crash left, before it serves.
    let mut second = spawn_vroom_with(port, db.url(), &creds, &args).await;
    let (status, p) = n.get(&format!("/v1/Rooms/again/Participants/{dora}")).await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("disconnected")),
        "{p}"
    );
    let (_client, m) =
        SignalClient::join(&n.ws(), &token_for(&creds, "erin"), Some("again"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    second.kill().await.unwrap();
    db.drop_now().await;
}

#[tokio::test]
async fn a_node_stopped_with_sigterm_hands_its_rooms_over_at_once() {
    let Some(db) = ScratchDatabase::create("cluster sigterm").await else {
        return;
    };
    let creds = test_credentials();
    let ([na, nb], [mut a, mut b]) = start_nodes(db.url(), &creds, &[]).await;
    let (status, room) = na.post("/v1/Rooms", &[("UniqueName", "handed")]).await;
    assert_eq!(status, 201, "{room}");
    let (_client, m) =
        SignalClient::join(&na.ws(), &token_for(&creds, "fay"), Some("handed"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    let fay = m["participant"]["sid"].as_str().unwrap().to_owned();

    sigterm(&a);
    exits_cleanly(&mut a, 15).await;

    // The stop ended its participants and released its leases: the other node serves the room
    // on the first try, without waiting for a lease to expire.
    let (status, p) = nb
        .get(&format!("/v1/Rooms/handed/Participants/{fay}"))
        .await;
    assert_eq!(
        (status, p["status"].as_str()),
        (200, Some("disconnected")),
        "{p}"
    );
    let (_client, m) =
        SignalClient::join(&nb.ws(), &token_for(&creds, "gus"), Some("handed"), &[]).await;
    assert_eq!(m["type"], "connected", "{m}");
    b.kill().await.unwrap();
    db.drop_now().await;
}
