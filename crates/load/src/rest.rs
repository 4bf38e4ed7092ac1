//! REST fetch, list, create and get (any paths) at a fixed concurrency or rate, optionally
//! interleaved with the same requests against the bare baseline.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::http::{Conn, Target, form};
use crate::signal::Client;
use crate::{Pace, Progress, Recorder, RunOptions, Scenario, Summary, due};

/// The request a REST scenario repeats: one method and body, over one or more paths taken in turn.
#[derive(Debug, Clone)]
struct Request {
    method: Method,
    paths: Vec<String>,
    form: Option<String>,
    want: StatusCode,
}

/// Creates a group room and returns its SID.
pub(crate) async fn create_room(conn: &mut Conn, extra: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut pairs = vec![("Type", "group")];
    pairs.extend_from_slice(extra);
    let room = conn
        .expect(
            Method::POST,
            "/v1/Rooms",
            Some(&form(&pairs)),
            StatusCode::CREATED,
        )
        .await?;
    Ok(room["sid"].as_str().context("a room sid")?.to_owned())
}

/// Sets up what the scenario reads and returns the request it repeats.
async fn prepare(target: &Target, scenario: &Scenario) -> anyhow::Result<Request> {
    let mut conn = Conn::open(target).await?;
    let run = std::process::id();
    match scenario {
        Scenario::Create(_) => Ok(Request {
            method: Method::POST,
            paths: vec!["/v1/Rooms".into()],
            form: Some(form(&[("Type", "group")])),
            want: StatusCode::CREATED,
        }),
        Scenario::Get { paths, .. } => {
            // Each path must answer 200 before the load starts, so a mistyped one fails the run
            // rather than measuring error pages.
            for path in paths {
                let a = conn.request(Method::GET, path, None).await?;
                if a.status != StatusCode::OK {
                    bail!("GET {path} answers {}", a.status);
                }
            }
            Ok(Request {
                method: Method::GET,
                paths: paths.clone(),
                form: None,
                want: StatusCode::OK,
            })
        }
        Scenario::Fetch(_) | Scenario::List { .. } => {
            let people = match scenario {
                Scenario::List { participants, .. } => *participants,
                _ => 1,
            };
            let name = format!("load-rest-{run}-{}", crate::signal::unique());
            let room = create_room(
                &mut conn,
                &[("UniqueName", &name), ("MaxParticipants", "50")],
            )
            .await?;
            let url = target.signaling_url();
            let mut last = String::new();
            // History, not live state, is what REST reads: the participants join and leave.
            for i in 0..people {
                let token = target.token(&format!("rest-{i}"), &name)?;
                let (c, _) = Client::join(&url, &token, &name).await?;
                last.clone_from(&c.participant_sid);
                c.leave().await?;
            }
            let path = match scenario {
                Scenario::List { page_size, .. } => {
                    format!(
                        "/v1/Rooms/{room}/Participants?Status=disconnected&PageSize={page_size}"
                    )
                }
                _ => format!("/v1/Rooms/{room}/Participants/{last}"),
            };
            // The departures are recorded by the room task; wait until the reads see them all.
            let until = Instant::now() + Duration::from_secs(10);
            loop {
                let a = conn.request(Method::GET, &path, None).await?;
                let body: Value = a.json().unwrap_or(Value::Null);
                let ready = match scenario {
                    Scenario::List { page_size, .. } => {
                        let n = body["participants"].as_array().map_or(0, Vec::len);
                        a.status == StatusCode::OK && n == people.min(*page_size) as usize
                    }
                    _ => a.status == StatusCode::OK && body["status"] == "disconnected",
                };
                if ready {
                    break;
                }
                if Instant::now() >= until {
                    bail!("{path} does not show the participants: {} {body}", a.status);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(Request {
                method: Method::GET,
                paths: vec![path],
                form: None,
                want: StatusCode::OK,
            })
        }
        _ => bail!("not a REST scenario"),
    }
}

/// Drives `req` against `target` for the warm-up and the window.
async fn drive(
    target: &Target,
    label: &str,
    req: &Request,
    pace: &Pace,
    progress: bool,
) -> anyhow::Result<Summary> {
    let rec = Arc::new(Recorder::default());
    let warm = Arc::new(Recorder::default());
    let mut conns = Vec::with_capacity(pace.concurrency);
    for _ in 0..pace.concurrency.max(1) {
        conns.push(Conn::open(target).await?);
    }
    let _progress = Progress::start(progress, label.to_owned(), Arc::clone(&rec));
    let start = Instant::now();
    let measure_from = start + Duration::from_secs_f64(pace.warmup);
    let end = measure_from + Duration::from_secs_f64(pace.seconds);
    let workers = conns.len() as u64;
    let mut tasks = Vec::new();
    for (i, mut conn) in conns.into_iter().enumerate() {
        let (rec, warm, req, rate) = (Arc::clone(&rec), Arc::clone(&warm), req.clone(), pace.rate);
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0u64.. {
                let began = match rate {
                    Some(r) => due(start, k * workers + i as u64, r).await,
                    None => Instant::now(),
                };
                if began >= end {
                    break;
                }
                let into = if began < measure_from { &warm } else { &rec };
                let path = &req.paths[(k as usize + i) % req.paths.len()];
                match conn
                    .request(req.method.clone(), path, req.form.as_deref())
                    .await
                {
                    Ok(a) if a.status == req.want => into.ok(began.elapsed()),
                    Ok(a) => into.error(format!("http {}", a.status.as_u16())),
                    Err(e) => {
                        into.error(format!("connection: {e}"));
                        // A broken connection is replaced, as a client's pool would.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        if let Ok(c) = Conn::open(&target).await {
                            conn = c;
                        }
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.context("a worker panicked")?;
    }
    let mut s = Summary::from_recorder(label, &target.base, pace.seconds, &rec);
    s.extra.insert("concurrency".into(), json!(workers));
    if let Some(r) = pace.rate {
        s.extra.insert("rate".into(), json!(r));
    }
    let requests: Vec<String> = req
        .paths
        .iter()
        .map(|p| format!("{} {p}", req.method))
        .collect();
    s.extra.insert(
        "request".into(),
        match requests.as_slice() {
            [one] => json!(one),
            _ => json!(requests),
        },
    );
    Ok(s)
}

/// Runs a REST scenario, with its baseline rounds when asked.
pub(crate) async fn run(
    target: &Target,
    scenario: &Scenario,
    pace: &Pace,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    let req = prepare(target, scenario).await?;
    let Some(base) = &opts.baseline else {
        return drive(target, scenario.name(), &req, pace, opts.progress).await;
    };
    let bare = Target {
        base: base.trim_end_matches('/').to_owned(),
        ..target.clone()
    };
    // The baseline learns each body from the target on its first request; warm it up once.
    let mut c = Conn::open(&bare).await?;
    for path in &req.paths {
        let first = c
            .request(req.method.clone(), path, req.form.as_deref())
            .await?;
        if first.status != req.want {
            bail!(
                "the baseline answers {} to {} {path}",
                first.status,
                req.method
            );
        }
    }
    let mut rounds = Vec::new();
    for _ in 0..opts.rounds.max(1) {
        let a = drive(target, scenario.name(), &req, pace, opts.progress).await?;
        let b = drive(&bare, "baseline", &req, pace, opts.progress).await?;
        rounds.push((a, b));
    }
    let ratios: Vec<f64> = rounds
        .iter()
        .map(|(a, b)| a.throughput() / b.throughput().max(f64::MIN_POSITIVE))
        .collect();
    let mut by_target: Vec<usize> = (0..rounds.len()).collect();
    by_target.sort_by(|&x, &y| {
        rounds[x]
            .0
            .throughput()
            .total_cmp(&rounds[y].0.throughput())
    });
    let mut by_bare: Vec<usize> = (0..rounds.len()).collect();
    by_bare.sort_by(|&x, &y| {
        rounds[x]
            .1
            .throughput()
            .total_cmp(&rounds[y].1.throughput())
    });
    let mid = rounds.len() / 2;
    let mut s = rounds[by_target[mid]].0.clone();
    let b = &rounds[by_bare[mid]].1;
    s.errors = rounds.iter().map(|(a, b)| a.errors + b.errors).sum();
    for (a, b) in &rounds {
        for (k, n) in a.error_kinds.iter().chain(&b.error_kinds) {
            *s.error_kinds.entry(k.clone()).or_default() += n;
        }
    }
    s.extra.insert(
        "baseline".into(),
        json!({"url": bare.base, "throughput_per_s": (b.throughput() * 10.0).round() / 10.0, "latency": b.latency.map(|q| q.to_json())}),
    );
    s.extra.insert(
        "ratio_of_medians".into(),
        json!((s.throughput() / b.throughput().max(f64::MIN_POSITIVE) * 1000.0).round() / 1000.0),
    );
    s.extra.insert(
        "rounds".into(),
        json!(rounds.iter().zip(&ratios).map(|((a, b), r)| json!({
            "target_per_s": a.throughput().round(), "baseline_per_s": b.throughput().round(), "ratio": (r * 1000.0).round() / 1000.0
        })).collect::<Vec<_>>()),
    );
    Ok(s)
}
