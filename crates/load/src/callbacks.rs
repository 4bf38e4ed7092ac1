//! Status callbacks: a receiver this tool runs, and the time from the request that causes an event
//! (create, `connect`, leave, complete) to its callback reaching the receiver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use clap::Args;
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use crate::http::{Conn, Target, form};
use crate::signal::{Client, unique};
use crate::{Progress, Recorder, RunOptions, Summary, due};

/// `callbacks`.
#[derive(Debug, Clone, Args)]
pub struct CallbackArgs {
    /// Room lives per second (each: create, a participant joins and leaves, complete: four events).
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Length of the window in which room lives start, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
    /// Where the receiver listens.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
    /// The receiver's base URL as the server reaches it (default: http://<listen address>).
    #[arg(long)]
    pub advertise: Option<String>,
    /// How long to wait for the last callbacks after the window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub grace_seconds: f64,
}

/// The events measured, in the order a room life causes them.
const EVENTS: [&str; 4] = [
    "room-created",
    "participant-connected",
    "participant-disconnected",
    "room-ended",
];

type Key = (String, &'static str, String);

#[derive(Clone, Copy)]
enum Side {
    /// The request causing the event was sent then.
    Caused(Instant),
    /// The callback came then (before the tool learnt the SID it carries).
    Arrived(Instant),
    /// Measured.
    Done,
}

#[derive(Default)]
struct Book {
    sides: Mutex<HashMap<Key, Side>>,
    /// One recorder per event, in `EVENTS` order.
    per_event: [Recorder; 4],
    all: Arc<Recorder>,
}

impl Book {
    fn meet(&self, key: Key, side: Side) {
        let event = EVENTS.iter().position(|e| *e == key.1).unwrap_or(0);
        let mut sides = self
            .sides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let took = match (sides.remove(&key), side) {
            (None, _) => {
                sides.insert(key, side);
                return;
            }
            (Some(Side::Caused(c)), Side::Arrived(a))
            | (Some(Side::Arrived(a)), Side::Caused(c)) => a.saturating_duration_since(c),
            // A second delivery of the same event (delivery is at least once): not measured again.
            (Some(other), _) => {
                sides.insert(key, other);
                return;
            }
        };
        sides.insert(key, Side::Done);
        drop(sides);
        self.per_event[event].ok(took);
        self.all.ok(took);
    }

    fn caused(&self, room: &str, event: &'static str, participant: &str, at: Instant) {
        self.meet((room.into(), event, participant.into()), Side::Caused(at));
    }
}

async fn receive(State(book): State<Arc<Book>>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    let mut room = String::new();
    let mut event = String::new();
    let mut participant = String::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "RoomSid" => room = v.into_owned(),
            "StatusCallbackEvent" => event = v.into_owned(),
            "ParticipantSid" => participant = v.into_owned(),
            _ => {}
        }
    }
    if let Some(e) = EVENTS.iter().find(|e| **e == event) {
        // Room events carry no participant.
        if e.starts_with("room-") {
            participant.clear();
        }
        book.meet((room, e, participant), Side::Arrived(now));
    }
    StatusCode::OK
}

/// One room life: create, join, leave, complete; notes when each event was caused.
async fn room_life(target: &Target, callback: &str, book: &Book) -> anyhow::Result<()> {
    let mut conn = Conn::open(target).await?;
    let name = format!("load-cb-{}", unique());
    let created = Instant::now();
    let room = crate::rest::create_room(
        &mut conn,
        &[("UniqueName", &name), ("StatusCallback", callback)],
    )
    .await?;
    book.caused(&room, EVENTS[0], "", created);
    let mut c = Client::open(&target.signaling_url()).await?;
    let joined = c.hello(&target.token("cb", &name)?, &name).await?;
    c.connected().await?;
    let participant = c.participant_sid.clone();
    book.caused(&room, EVENTS[1], &participant, joined);
    let left = Instant::now();
    c.leave().await?;
    book.caused(&room, EVENTS[2], &participant, left);
    let ended = Instant::now();
    conn.expect(
        Method::POST,
        &format!("/v1/Rooms/{room}"),
        Some(&form(&[("Status", "completed")])),
        StatusCode::ACCEPTED,
    )
    .await?;
    book.caused(&room, EVENTS[3], "", ended);
    Ok(())
}

/// Runs the receiver and room lives at a rate.
pub(crate) async fn run(
    target: &Target,
    a: &CallbackArgs,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    let book = Arc::new(Book::default());
    let listener = tokio::net::TcpListener::bind(&a.listen)
        .await
        .with_context(|| format!("the receiver cannot listen on {}", a.listen))?;
    let local = listener.local_addr()?;
    let base = a
        .advertise
        .clone()
        .unwrap_or_else(|| format!("http://{local}"));
    let callback = format!("{}/callback", base.trim_end_matches('/'));
    let app = Router::new()
        .route("/callback", post(receive))
        .with_state(Arc::clone(&book));
    let receiver = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let _progress = Progress::start(opts.progress, "callbacks".into(), Arc::clone(&book.all));
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for k in 0u64.. {
        if due(start, k, a.rate).await >= end {
            break;
        }
        let (target, callback, book) = (target.clone(), callback.clone(), Arc::clone(&book));
        tasks.push(tokio::spawn(async move {
            if let Err(e) = room_life(&target, &callback, &book).await {
                book.all.error(format!("room life: {e}"));
            }
        }));
    }
    for t in tasks {
        t.await.context("a room life panicked")?;
    }
    // The last callbacks may still be on their way.
    let until = Instant::now() + Duration::from_secs_f64(a.grace_seconds);
    loop {
        let waiting = book
            .sides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|s| !matches!(s, Side::Done))
            .count();
        if waiting == 0 || Instant::now() >= until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    receiver.abort();
    let sides = std::mem::take(
        &mut *book
            .sides
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    for ((_, event, _), side) in sides {
        match side {
            Side::Caused(_) => book.all.error(format!("no {event} callback")),
            Side::Arrived(_) => book
                .all
                .error(format!("{event} callback for an unknown cause")),
            Side::Done => {}
        }
    }
    let mut s = Summary::from_recorder("callbacks", &target.base, a.seconds, &book.all);
    s.extra.insert("rate".into(), json!(a.rate));
    let per: serde_json::Map<String, serde_json::Value> = EVENTS
        .iter()
        .zip(&book.per_event)
        .map(|(e, r)| {
            (
                (*e).to_owned(),
                json!(r.latency.quantiles().map(|q| q.to_json())),
            )
        })
        .collect();
    s.extra.insert("per_event".into(), per.into());
    Ok(s)
}
