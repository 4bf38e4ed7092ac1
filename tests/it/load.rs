//! A few seconds of every `vroom-load` scenario against the real server: the load tool keeps
//! working (set-up, the requests it sends, what it expects back) and the server answers all of it
//! without an error. Timings are printed, never asserted.

use vroom_load::cross::{CrossArgs, Effect};
use vroom_load::live::{IdleArgs, JoinArgs, KickArgs};
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
    no_errors(
        &t,
        Scenario::Join(JoinArgs {
            rate: 40.0,
            seconds: 1.0,
            rooms: 3,
            hold_ms: 300,
            large_room: true,
        }),
        opts.clone(),
    )
    .await;
    no_errors(
        &t,
        Scenario::Idle(IdleArgs {
            participants: 12,
            per_room: 5,
            connect_rate: 100.0,
            hold_seconds: 0.5,
            rounds: 2,
            settle_seconds: 0.1,
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
