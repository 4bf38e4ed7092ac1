//! Cross-node effects: a change issued on one node (`--via`) to a room another node (`--url`)
//! runs, timed until the participant's socket on the room's node learns of it.
//!
//! - `kick`: a participant joins through `--url`; the REST kick goes to `--via`;
//! - `complete`: a room is made and joined through `--url`; `Status=completed` goes to `--via`;
//! - `takeover`: a participant joins through `--url`; the same identity joins through `--via`
//!   (relayed to the room's node), and the older socket must get 53205.
//!
//! Each worker works in rooms of its own, one change at a time.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use hyper::{Method, StatusCode};
use serde_json::json;
use tokio::time::Instant;

use crate::http::{Conn, Target, form};
use crate::signal::{ANSWER_WAIT, Client, Frame, unique};
use crate::{Progress, Recorder, RunOptions, Summary};

/// Which change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Effect {
    /// REST `Status=disconnected` on a participant.
    Kick,
    /// REST `Status=completed` on a room.
    Complete,
    /// A join with the same identity.
    Takeover,
}

impl Effect {
    fn name(self) -> &'static str {
        match self {
            Self::Kick => "cross-kick",
            Self::Complete => "cross-complete",
            Self::Takeover => "cross-takeover",
        }
    }
}

/// `cross`.
#[derive(Debug, Clone, Args)]
pub struct CrossArgs {
    /// The node the change is issued on (REST, or the second join), `http://host:port`; the rooms
    /// are made and joined on `--url`.
    #[arg(long)]
    pub via: String,
    /// Which change.
    #[arg(long, value_enum, default_value_t = Effect::Kick)]
    pub effect: Effect,
    /// Changes in flight at once (each in its own room).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Length of the window, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub seconds: f64,
}

/// Waits until the server ends `c`'s session; `Ok(code)` with the RSP error code (0 for
/// `disconnected` or a close).
async fn end_of(c: &mut Client) -> anyhow::Result<u64> {
    let until = Instant::now() + ANSWER_WAIT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match c.next(left).await? {
            None => bail!("timeout waiting for the session's end"),
            Some(Frame::Closed) => return Ok(0),
            Some(Frame::Msg(m)) if m["type"] == "disconnected" => return Ok(0),
            Some(Frame::Msg(m)) if m["type"] == "error" => {
                return Ok(m["code"].as_u64().unwrap_or(1));
            }
            Some(_) => {}
        }
    }
}

async fn new_room(conn: &mut Conn) -> anyhow::Result<(String, String)> {
    let name = format!("cross-{}", unique());
    let sid = crate::rest::create_room(conn, &[("UniqueName", name.as_str())]).await?;
    Ok((name, sid))
}

/// One change, timed from when it was issued to when the socket on the room's node learned of it.
async fn once(
    effect: Effect,
    target: &Target,
    via: &Target,
    home: &mut Conn,
    away: &mut Conn,
    room: &(String, String),
    identity: &str,
) -> anyhow::Result<Duration> {
    let (name, sid) = match effect {
        Effect::Complete => new_room(home).await?,
        Effect::Kick | Effect::Takeover => room.clone(),
    };
    let token = target.token(identity, &name)?;
    let (mut c, _) = Client::join(&target.signaling_url(), &token, &name)
        .await
        .context("join")?;
    let sent = Instant::now();
    match effect {
        Effect::Kick => {
            let path = format!("/v1/Rooms/{sid}/Participants/{}", c.participant_sid);
            let kick = form(&[("Status", "disconnected")]);
            let (rest, ended) = tokio::join!(
                away.expect(Method::POST, &path, Some(&kick), StatusCode::ACCEPTED),
                async { end_of(&mut c).await.map(|code| (code, sent.elapsed())) }
            );
            rest?;
            let (code, took) = ended?;
            if code != 53204 {
                bail!("kicked with {code}, not 53204");
            }
            Ok(took)
        }
        Effect::Complete => {
            let path = format!("/v1/Rooms/{sid}");
            let done = form(&[("Status", "completed")]);
            let (rest, ended) = tokio::join!(
                away.expect(Method::POST, &path, Some(&done), StatusCode::ACCEPTED),
                async { end_of(&mut c).await.map(|code| (code, sent.elapsed())) }
            );
            rest?;
            let (code, took) = ended?;
            if code != 0 {
                bail!("ended with {code}, not `disconnected`");
            }
            Ok(took)
        }
        Effect::Takeover => {
            let url = via.signaling_url();
            let second = Client::join(&url, &token, &name);
            let (joined, ended) = tokio::join!(second, async {
                end_of(&mut c).await.map(|code| (code, sent.elapsed()))
            });
            let (newer, _) = joined.context("the second join")?;
            let (code, took) = ended?;
            if code != 53205 {
                bail!("replaced with {code}, not 53205");
            }
            newer.leave().await?;
            Ok(took)
        }
    }
}

/// Runs `effect` from `--via` on rooms of `target`.
pub(crate) async fn run(
    target: &Target,
    a: &CrossArgs,
    opts: &RunOptions,
) -> anyhow::Result<Summary> {
    let via = Target {
        base: a.via.trim_end_matches('/').to_owned(),
        ..target.clone()
    };
    let rec = Arc::new(Recorder::default());
    let _progress = Progress::start(opts.progress, a.effect.name().into(), Arc::clone(&rec));
    let end = Instant::now() + Duration::from_secs_f64(a.seconds);
    let mut tasks = Vec::new();
    for w in 0..a.concurrency.max(1) {
        let (rec, target, via, effect) = (Arc::clone(&rec), target.clone(), via.clone(), a.effect);
        tasks.push(tokio::spawn(async move {
            let (Ok(mut home), Ok(mut away)) = (Conn::open(&target).await, Conn::open(&via).await)
            else {
                return rec.error("REST connection");
            };
            let room = match new_room(&mut home).await {
                Ok(r) => r,
                Err(e) => return rec.error(format!("room: {e}")),
            };
            for n in 0u64.. {
                // At least one each, however long the set-up took (a busy machine can outlast a
                // short window).
                if n > 0 && Instant::now() >= end {
                    break;
                }
                let identity = format!("cross-{w}-{n}");
                match once(
                    effect, &target, &via, &mut home, &mut away, &room, &identity,
                )
                .await
                {
                    Ok(took) => rec.ok(took),
                    Err(e) => rec.error(format!("{e:#}")),
                }
            }
        }));
    }
    for t in tasks {
        t.await.context("a worker panicked")?;
    }
    let mut s = Summary::from_recorder(a.effect.name(), &target.base, a.seconds, &rec);
    s.extra.insert("via".into(), json!(via.base));
    s.extra.insert("concurrency".into(), json!(a.concurrency));
    Ok(s)
}
