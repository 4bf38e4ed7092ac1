//! A graceful stop with clients connected: every session is told it is over (RSP error 53000, which
//! twilio-video.js turns into a `disconnected` room at once), every participant's record ends at the
//! stop, their `participant-disconnected` callbacks are delivered before the server exits, and the
//! next start finds nobody left connected.

use std::time::Duration;

use vroom_testkit::SignalClient;

use crate::common::TestServer;
use crate::webhooks::Receiver;

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_ends_every_session_records_it_and_delivers_its_callbacks() {
    let s = TestServer::start().await;
    let mut receiver = Receiver::start(&s.creds.auth_token, None, 0, &[]).await;
    s.create_room(&[
        ("UniqueName", "standup"),
        ("StatusCallback", &receiver.url("/events")),
    ])
    .await;
    let (mut a, am) =
        SignalClient::join(&s.ws, &s.token("alice", None), Some("standup"), &[]).await;
    let (mut b, bm) = SignalClient::join(&s.ws, &s.token("bob", None), Some("standup"), &[]).await;
    let sids = [
        am["participant"]["sid"].as_str().unwrap().to_owned(),
        bm["participant"]["sid"].as_str().unwrap().to_owned(),
    ];
    // room-created, two participant-connected.
    let (before, _) = receiver.delivered(3).await;
    assert_eq!(before[0]["params"]["StatusCallbackEvent"], "room-created");

    let db = s.db_url.clone();
    let stopped_at = s.now();
    let stopping = tokio::spawn(s.stop_keeping_data());
    for client in [&mut a, &mut b] {
        let e = client.next_of("error").await.expect("the client is told");
        assert_eq!(e["code"], 53000, "{e}");
    }
    // The clients' goodbye, as twilio-video.js says it on an error.
    a.leave().await;
    b.leave().await;
    let _data = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the stop finishes well within the shutdown timeout")
        .unwrap();

    // Both departures were delivered before the server exited.
    let mut left = Vec::new();
    while let Some(r) = receiver.next(Duration::from_millis(200)).await {
        if r["answered"] == 200 {
            left.push(r);
        }
    }
    let mut gone: Vec<&str> = left
        .iter()
        .filter(|r| r["params"]["StatusCallbackEvent"] == "participant-disconnected")
        .map(|r| r["params"]["ParticipantSid"].as_str().unwrap())
        .collect();
    gone.sort_unstable();
    let mut want: Vec<&str> = sids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(gone, want, "delivered before the exit: {left:?}");

    // Nobody is left connected for the next start to sweep, and the records end at the stop.
    let store = vroom_store::open(&db).await.unwrap();
    assert!(store.connected_participants().await.unwrap().is_empty());
    for sid in &sids {
        let p = store
            .participant(sid.parse().unwrap())
            .await
            .unwrap()
            .expect("the participant's record");
        let end = p.end_time.expect("an end time");
        assert!(
            (end.millis() - stopped_at.millis()).abs() < 5000,
            "ends at the stop: {end:?} vs {stopped_at:?}"
        );
    }
}
