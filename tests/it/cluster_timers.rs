//! Room timers across the cluster fire exactly once, on the node that runs the room, and carry on
//! when that node dies: unused-room and empty-room timeouts (one minute, Twilio's shortest) and the
//! reconnect window of a participant whose connection dropped. Three vroom processes on one
//! PostgreSQL database, one killed with SIGKILL while its timers are pending; every room's status
//! callbacks arrive in order with one `room-ended` each. Takes about 70 s (the timeouts are
//! minutes). Skipped (saying so) without a PostgreSQL server, except under `CI=true`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vroom_store::postgres::scratch::ScratchDatabase;
use vroom_testkit::SignalClient;

use crate::cluster::{start_nodes, within};
use crate::cluster_three::{per_room, receiver};
use crate::common::{test_credentials, token_for};

/// The reconnect window every node runs with, seconds.
const WINDOW: u64 = 2;

#[tokio::test]
async fn room_timers_fire_once_across_three_nodes_and_carry_on_when_one_dies() {
    let Some(db) = ScratchDatabase::create("cluster timers").await else {
        return;
    };
    let creds = test_credentials();
    let (url, arrivals) = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("vroom.toml");
    std::fs::write(&config, format!("[rooms]\nreconnect_window = {WINDOW}\n")).unwrap();
    let args = ["--config", config.to_str().unwrap()];
    let (nodes, mut children) = start_nodes::<3>(db.url(), &creds, &args).await;
    let started = Instant::now();

    // On each node: a room nobody joins (it ends when unused for a minute) and a room with one
    // participant, who signals through the next node (relayed), and which ends a minute after it
    // is left empty.
    let mut rooms = Vec::new();
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for (i, n) in nodes.iter().enumerate() {
        let unused = format!("unused-{i}");
        let (status, room) = n
            .post(
                "/v1/Rooms",
                &[
                    ("UniqueName", unused.as_str()),
                    ("UnusedRoomTimeout", "1"),
                    ("StatusCallback", url.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 201, "{room}");
        rooms.push((unused, room["sid"].as_str().unwrap().to_owned()));
        let empty = format!("empty-{i}");
        let (status, room) = n
            .post(
                "/v1/Rooms",
                &[
                    ("UniqueName", empty.as_str()),
                    ("EmptyRoomTimeout", "1"),
                    ("StatusCallback", url.as_str()),
                ],
            )
            .await;
        assert_eq!(status, 201, "{room}");
        rooms.push((empty.clone(), room["sid"].as_str().unwrap().to_owned()));
        let through = &nodes[(i + 1) % 3];
        let (client, m) = SignalClient::join(
            &through.ws(),
            &token_for(&creds, &format!("p{i}")),
            Some(&empty),
            &[],
        )
        .await;
        assert_eq!(m["type"], "connected", "{m}");
        let sid = m["participant"]["sid"].as_str().unwrap().to_owned();
        if i == 0 {
            // Node A's participant stays until A dies with it.
            kept.push(client.keep_alive());
        } else {
            dropped.push((empty, sid));
            client.drop_connection();
        }
    }

    // The participants whose connections dropped are disconnected once their reconnect window
    // has passed, by the node that runs their room (not by the node they signaled through).
    for (room, sid) in &dropped {
        let path = format!("/v1/Rooms/{room}/Participants/{sid}");
        within(3 * WINDOW + 5, "the reconnect window closed", || async {
            nodes[0].get(&path).await.1["status"] == "disconnected"
        })
        .await;
    }

    // Node A dies with its two rooms' timers pending and a participant connected.
    children[0].kill().await.unwrap();
    for k in kept {
        k.abort();
    }

    // Every room ends by its timer, node A's on whichever node took them over: within the minute
    // plus the takeover bound (two lease terms) and some slack.
    let [_, nb, nc] = &nodes;
    for (name, sid) in &rooms {
        let path = format!("/v1/Rooms/{sid}");
        loop {
            let (status, room) = nb.get(&path).await;
            if status == 200 && room["status"] == "completed" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(100),
                "{name} ended by its timer within 100 s: {status} {room}; participants: {}",
                nb.get(&format!("{path}/Participants")).await.1
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    for (_, sid) in &rooms {
        let (_, room) = nc.get(&format!("/v1/Rooms/{sid}")).await;
        let duration = room["duration"].as_i64().expect("an ended room's duration");
        assert!(
            (60..=90).contains(&duration),
            "{sid} ended by its one-minute timer, not before: {room}"
        );
    }
    // Status callbacks: each room's in order, one `room-ended` and one `participant-disconnected`
    // per participant; a second firing of any timer would have added an event.
    within(30, "every room-ended callback", || {
        let arrivals = Arc::clone(&arrivals);
        let rooms = rooms.clone();
        async move {
            let got = arrivals.lock().unwrap();
            rooms.iter().all(|(_, r)| {
                got.iter()
                    .any(|(room, _, e)| room == r && e == "room-ended")
            })
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = per_room(&arrivals.lock().unwrap());
    for (name, sid) in &rooms {
        let seen = &got[sid];
        let seqs: Vec<u64> = seen.iter().map(|(s, _)| *s).collect();
        let want: Vec<u64> = (0..u64::try_from(seqs.len()).unwrap()).collect();
        assert_eq!(seqs, want, "{name}: every event, in order: {seen:?}");
        let events: Vec<&str> = seen.iter().map(|(_, e)| e.as_str()).collect();
        let count = |kind: &str| events.iter().filter(|e| **e == kind).count();
        assert_eq!(count("room-ended"), 1, "{name}: {events:?}");
        let joined = usize::from(name.starts_with("empty-"));
        assert_eq!(count("participant-connected"), joined, "{name}: {events:?}");
        assert_eq!(
            count("participant-disconnected"),
            joined,
            "{name}: {events:?}"
        );
        assert_eq!(events.last(), Some(&"room-ended"), "{name}: {events:?}");
    }
    for mut child in children {
        let _ = child.kill().await;
    }
    db.drop_now().await;
}
