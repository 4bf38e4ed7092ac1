//! A SIGKILL under load loses nothing the server acknowledged: every room answered with 201 and
//! every participant answered with `connected` is in the database after the restart, and so is
//! the status callback of each (delivered once the receiver is up). This is what group commit
//! (several changes in one transaction, every caller answered only after the commit) must keep.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use vroom_load::signal::Client;

use crate::webhooks::Receiver;

#[tokio::test(flavor = "multi_thread")]
async fn a_sigkill_under_load_loses_no_acknowledged_change_nor_its_callback() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/vroom.db", dir.path().display());
    let creds = crate::common::test_credentials();
    let (port, hook_port) = (crate::common::free_port(), crate::common::free_port());
    let base = format!("http://127.0.0.1:{port}");
    let ws = format!("ws://127.0.0.1:{port}/signaling");
    let hook = format!("http://127.0.0.1:{hook_port}/cb");
    let http = reqwest::Client::new();
    let (user, pass) = (creds.api_key_sid.to_string(), creds.api_key_secret.clone());
    let mut first = crate::common::spawn_vroom(port, &db, &creds).await;

    // The receiver is down: every event waits in the outbox until after the restart.
    let rooms: Arc<Mutex<Vec<String>>> = Arc::default();
    let joined: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let mut names = Vec::new();
    for i in 0..4 {
        let name = format!("busy-{i}");
        let created = http
            .post(format!("{base}/v1/Rooms"))
            .basic_auth(&user, Some(&pass))
            .form(&[("UniqueName", name.as_str()), ("StatusCallback", &hook)])
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
        let room: serde_json::Value = created.json().await.unwrap();
        rooms
            .lock()
            .unwrap()
            .push(room["sid"].as_str().unwrap().to_owned());
        names.push(name);
    }

    let mut load = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let (http, base, hook, user, pass) = (
            http.clone(),
            base.clone(),
            hook.clone(),
            user.clone(),
            pass.clone(),
        );
        let rooms = Arc::clone(&rooms);
        load.spawn(async move {
            loop {
                let Ok(r) = http
                    .post(format!("{base}/v1/Rooms"))
                    .basic_auth(&user, Some(&pass))
                    .form(&[("StatusCallback", &hook)])
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() != 201 {
                    continue;
                }
                let Ok(room) = r.json::<serde_json::Value>().await else {
                    return;
                };
                let sid = room["sid"].as_str().unwrap().to_owned();
                rooms.lock().unwrap().push(sid);
            }
        });
    }
    for j in 0..8 {
        let (ws, name) = (ws.clone(), names[j % names.len()].clone());
        let creds = creds.clone();
        let joined = Arc::clone(&joined);
        load.spawn(async move {
            for n in 0.. {
                let token = crate::common::token_for(&creds, &format!("p{j}-{n}"));
                let Ok((client, _)) = Client::join(&ws, &token, &name).await else {
                    return;
                };
                let acknowledged = (client.room_sid.clone(), client.participant_sid.clone());
                joined.lock().unwrap().push(acknowledged);
                if client.leave().await.is_err() {
                    return;
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.kill().await.unwrap();
    while load.join_next().await.is_some() {}

    let rooms = rooms.lock().unwrap().clone();
    let joined = joined.lock().unwrap().clone();
    assert!(rooms.len() > 4, "the load created rooms: {}", rooms.len());
    assert!(!joined.is_empty(), "the load joined participants");
    println!(
        "acknowledged before the SIGKILL: {} rooms, {} joins",
        rooms.len(),
        joined.len()
    );

    let mut second = crate::common::spawn_vroom(port, &db, &creds).await;
    for sid in &rooms {
        let r = http
            .get(format!("{base}/v1/Rooms/{sid}"))
            .basic_auth(&user, Some(&pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "room {sid} was acknowledged with 201");
    }
    for (room, participant) in &joined {
        let r = http
            .get(format!("{base}/v1/Rooms/{room}/Participants/{participant}"))
            .basic_auth(&user, Some(&pass))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            200,
            "participant {participant} was acknowledged with connected"
        );
    }

    // Each of them had its event stored with it: it is delivered now.
    let mut missing: HashSet<(String, String)> = rooms
        .iter()
        .map(|r| ("room-created".to_owned(), r.clone()))
        .chain(
            joined
                .iter()
                .map(|(_, p)| ("participant-connected".to_owned(), p.clone())),
        )
        .collect();
    let mut rx = Receiver::start(&creds.auth_token, None, hook_port, &[]).await;
    while !missing.is_empty() {
        let Some(r) = rx.next(Duration::from_secs(30)).await else {
            panic!(
                "{} callbacks never arrived, e.g. {:?}",
                missing.len(),
                missing.iter().next()
            );
        };
        if r["answered"] != 200 {
            continue;
        }
        let p = &r["params"];
        let kind = p["StatusCallbackEvent"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let sid = if kind == "room-created" {
            p["RoomSid"].as_str()
        } else {
            p["ParticipantSid"].as_str()
        };
        missing.remove(&(kind, sid.unwrap_or_default().to_owned()));
    }
    second.kill().await.unwrap();
}
