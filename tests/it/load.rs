//! A few seconds of every `vroom-load` scenario against the real server: the load tool keeps
//! working (set-up, the requests it sends, what it expects back) and the server answers all of it
//! without an error. Timings are printed, never asserted.

use hyper::{Method, StatusCode};
use vroom_load::cross::{CrossArgs, Effect};
use vroom_load::http::Conn;
use vroom_load::live::{IdleArgs, JoinArgs, KickArgs};
use vroom_load::seed::{self, SeedArgs};
use vroom_load::{Pace, RunOptions, Scenario, Target, callbacks::CallbackArgs};

use crate::common::TestServer;

fn target(s: &TestServer) -> Target {
    Target {
        base: s.base.clone(),
        account_sid: s.creds.account_sid.to_string(),
        auth_token: s.creds.auth_token.clone(),
        api_key_sid: s.creds.api_key_sid.to_string(),
        api_key_secret: s.creds.api_key_secret.clone(),
    }
}

fn pace() -> Pace {
    Pace {
        concurrency: 4,
        rate: None,
        seconds: 0.5,
        warmup: 0.1,
    }
}

async fn no_errors(t: &Target, scenario: Scenario, opts: RunOptions) {
    let s = vroom_load::run(t, &scenario, &opts)
        .await
        .unwrap_or_else(|e| panic!("{} cannot run: {e:#}", scenario.name()));
    println!("{}", s.to_json());
    assert_eq!(
        s.errors,
        0,
        "{} had errors: {}",
        scenario.name(),
        s.to_text()
    );
    assert!(s.ok > 0, "{} did nothing: {}", scenario.name(), s.to_text());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_load_scenario_runs_without_errors() {
    let s = TestServer::start().await;
    let t = target(&s);
    let opts = RunOptions::default();
    no_errors(&t, Scenario::Fetch(pace()), opts.clone()).await;
    no_errors(
        &t,
        Scenario::List {
            pace: Pace {
                rate: Some(200.0),
                ..pace()
            },
            page_size: 3,
            participants: 4,
        },
        opts.clone(),
    )
    .await;
    // The ratio path, with the server as its own baseline.
    no_errors(
        &t,
        Scenario::Create(pace()),
        RunOptions {
            baseline: Some(s.base.clone()),
            rounds: 1,
            ..opts.clone()
        },
    )
    .await;
    // Against vroom, then the same joins against vroom-bare's signaling (served here), as
    // `scripts/bench-live join` runs them.
    let floor = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the floor");
    let floor_url = format!("http://{}", floor.local_addr().expect("its address"));
    let router = vroom_load::bare::Floor::new(Some(&t.api_key_secret)).router();
    let floor = axum::serve::ListenerExt::tap_io(floor, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let floor_task = tokio::spawn(async move { axum::serve(floor, router).await });
    no_errors(
        &t,
        Scenario::Join(JoinArgs {
            rate: 40.0,
            seconds: 1.0,
            rooms: 3,
            hold_ms: 300,
            large_room: true,
        }),
        RunOptions {
            baseline: Some(floor_url),
            baseline_pid: Some(std::process::id()),
            rounds: 1,
            ..opts.clone()
        },
    )
    .await;
    floor_task.abort();
    no_errors(
        &t,
        Scenario::Idle(IdleArgs {
            participants: 12,
            per_room: 5,
            connect_rate: 100.0,
            hold_seconds: 0.5,
            rounds: 2,
            settle_seconds: 0.1,
            warmup: 3,
        }),
        RunOptions {
            server_pid: Some(std::process::id()),
            ..opts.clone()
        },
    )
    .await;
    no_errors(
        &t,
        Scenario::Kick(KickArgs {
            concurrency: 2,
            seconds: 0.5,
        }),
        opts.clone(),
    )
    .await;
    // One node here: the changes are issued on the room's own node (tests/it/cluster* and
    // scripts/bench-cluster run it across nodes).
    for effect in [Effect::Kick, Effect::Complete, Effect::Takeover] {
        no_errors(
            &t,
            Scenario::Cross(CrossArgs {
                via: s.base.clone(),
                effect,
                concurrency: 2,
                seconds: 0.5,
            }),
            opts.clone(),
        )
        .await;
    }
    no_errors(
        &t,
        Scenario::Callbacks(CallbackArgs {
            rate: 10.0,
            seconds: 0.5,
            listen: "127.0.0.1:0".into(),
            advertise: None,
            grace_seconds: 10.0,
        }),
        opts,
    )
    .await;
    s.stop().await;
}

/// `vroom-seed`'s history, written into the server's database, lists as seeded through every path
/// the seed prints, and `get` runs over all of them without an error.
#[tokio::test(flavor = "multi_thread")]
async fn a_seeded_history_lists_through_every_path_the_seed_prints() {
    let s = TestServer::start().await;
    let t = target(&s);
    let store = vroom_store::open(&s.db_url).await.unwrap();
    let args = SeedArgs {
        participants: 500,
        rooms: 6,
        big_room: 400,
        identities: 10,
        batch: 70,
        progress: false,
    };
    let report = seed::seed(&*store, s.creds.account_sid, &args)
        .await
        .unwrap();
    assert_eq!(report["records"], 506, "{report}");
    let paths = &report["paths"];
    let mut conn = Conn::open(&t).await.unwrap();
    let mut sids = async |key: &str, list: &str| -> Vec<String> {
        let path = paths[key].as_str().unwrap();
        let a = conn.request(Method::GET, path, None).await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let body = a.json().unwrap();
        body[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["sid"].as_str().unwrap().to_owned())
            .collect()
    };
    let pa = |n: u64| seed::participant_sid(n).to_string();
    let rm = |n: u64| seed::room_sid(n).to_string();
    // Newest first: the big room's last joiner, 399, heads the first page of 50.
    let first = sids("participants", "participants").await;
    assert_eq!((first.len(), first[0].as_str()), (50, pa(399).as_str()));
    // The page after the middle participant (200) starts with the one who joined before it.
    let deep = sids("participants_deep", "participants").await;
    assert_eq!((deep.len(), deep[0].as_str()), (50, pa(199).as_str()));
    // user-7 is every tenth joiner: 397, 387, …, 7.
    let seven = sids("participants_identity", "participants").await;
    assert_eq!(
        seven,
        (0..40).rev().map(|k| pa(k * 10 + 7)).collect::<Vec<_>>()
    );
    assert!(
        sids("participants_connected", "participants")
            .await
            .is_empty()
    );
    // Joins are 10 ms apart: the middle one (200) joined 2 s after the first.
    let after = sids("participants_after", "participants").await;
    assert_eq!((after.len(), after[49].as_str()), (50, pa(350).as_str()));
    let before = sids("participants_before", "participants").await;
    assert_eq!((before.len(), before[0].as_str()), (50, pa(199).as_str()));
    let rooms = sids("rooms", "rooms").await;
    assert_eq!(rooms, (0..6).rev().map(rm).collect::<Vec<_>>());
    assert!(sids("rooms_in_progress", "rooms").await.is_empty());
    assert_eq!(sids("rooms_name", "rooms").await, vec![rm(3)]);
    // Even rooms are named by their SID; the one before the middle is found by it.
    assert_eq!(sids("rooms_sid_name", "rooms").await, vec![rm(2)]);
    assert_eq!(
        sids("rooms_after", "rooms").await,
        vec![rm(5), rm(4), rm(3)]
    );
    assert_eq!(sids("rooms_deep", "rooms").await, vec![rm(2), rm(1), rm(0)]);
    let all = paths
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    no_errors(
        &t,
        Scenario::Get {
            pace: pace(),
            paths: all,
        },
        RunOptions::default(),
    )
    .await;
    s.stop().await;
}
