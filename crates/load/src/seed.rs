//! A large history for the list measures: completed rooms and their departed participants,
//! written through vroom's own store (`vroom-seed` is the command; BENCHMARKS.md, "Live path").
//!
//! The first room (the "big" room) gets `big_room` participants, the others share the rest
//! evenly; participants join 10 ms apart and take identities `user-0 … user-<identities - 1>` in
//! turn. SIDs are a fixed function of the record's number, so two seeds with the same arguments
//! write the same SIDs. The report names the big room and, for each list to measure, a path to
//! GET (every filter, and a PageToken half-way down).

use std::time::Instant;

use clap::Args;
use serde_json::{Value, json};
use vroom_domain::participant::{EndReason, Participant};
use vroom_domain::room::{CreateRoom, Room, RoomStatus};
use vroom_domain::sid::{AccountSid, ParticipantSid, RoomSid};
use vroom_domain::time::{Span, Timestamp};
use vroom_store::{Change, Store};

/// What to write.
#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Participants in all, over every room.
    #[arg(long, default_value_t = 1_000_000)]
    pub participants: u64,
    /// Rooms in all (at least 1).
    #[arg(long, default_value_t = 10_000)]
    pub rooms: u64,
    /// Participants of the first room (the rest are shared by the other rooms).
    #[arg(long, default_value_t = 100_000)]
    pub big_room: u64,
    /// Distinct identities, taken in turn.
    #[arg(long, default_value_t = 1_000)]
    pub identities: u64,
    /// Records per transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Print progress to stderr.
    #[arg(skip = true)]
    pub progress: bool,
}

/// Fixed SIDs: the record's number times an odd constant (a bijection on 128 bits, so distinct
/// numbers give distinct SIDs, scattered over the key space as random ones are), with a tag per
/// kind.
fn sid_bytes(tag: u128, n: u64) -> [u8; 16] {
    (u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835) ^ tag).to_be_bytes()
}

/// The SID of the `n`-th room seeded (the big room is 0).
#[must_use]
pub fn room_sid(n: u64) -> RoomSid {
    RoomSid::from_bytes(sid_bytes(0x5eed_0001 << 96, n))
}

/// The SID of the `n`-th participant seeded (the big room's come first).
#[must_use]
pub fn participant_sid(n: u64) -> ParticipantSid {
    ParticipantSid::from_bytes(sid_bytes(0x5eed_0002 << 96, n))
}

/// 2026-01-01T00:00:00Z.
const T0: Timestamp = Timestamp::from_secs(1_767_225_600);
/// Between two joins of one room.
const JOIN_GAP_MS: i64 = 10;
/// How long every participant stays.
const STAY: Span = Span::from_secs(60);

/// Where room `r` starts: the big room at T0, each other room one second after the previous,
/// after the big room's joins.
fn room_start(r: u64, big: u64) -> Timestamp {
    if r == 0 {
        return T0;
    }
    let after_big = T0.millis() + i64::try_from(big).unwrap_or(i64::MAX / 2) * JOIN_GAP_MS;
    Timestamp::from_millis(after_big + i64::try_from(r).unwrap_or(0) * 1000)
}

fn date_param(t: Timestamp) -> String {
    t.to_chrono()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn query(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
    format!("{path}?{}", q.finish())
}

/// Writes the history of `a` for `account` into `store`; returns the report (its `paths` are what
/// to GET).
///
/// # Errors
/// Arguments that do not fit (no room, a big room larger than the whole), or a failed write.
pub async fn seed(store: &dyn Store, account: AccountSid, a: &SeedArgs) -> anyhow::Result<Value> {
    anyhow::ensure!(a.rooms >= 1, "--rooms must be at least 1");
    anyhow::ensure!(
        a.big_room <= a.participants,
        "--big-room cannot exceed --participants"
    );
    let settings = CreateRoom::default()
        .validate()
        .map_err(|e| anyhow::anyhow!("default room settings: {e}"))?
        .1;
    let started = Instant::now();
    let others = a.rooms - 1;
    let rest = a.participants - a.big_room;
    let mut batch: Vec<Change> = Vec::with_capacity(a.batch + 1);
    let mut written = 0u64;
    let mut next_participant = 0u64;
    for r in 0..a.rooms {
        let count = match (r, others) {
            (0, _) => a.big_room,
            (_, 0) => 0,
            // Shared evenly, the first rooms taking one more when it does not divide.
            _ => rest / others + u64::from(r - 1 < rest % others),
        };
        let start = room_start(r, a.big_room);
        let sid = room_sid(r);
        let mut room = Room {
            sid,
            account_sid: account,
            // Every other room named by its SID, as rooms created without a UniqueName are.
            unique_name: if r % 2 == 0 {
                sid.to_string()
            } else {
                format!("seed-room-{r}")
            },
            status: RoomStatus::InProgress,
            ad_hoc: false,
            settings: settings.clone(),
            date_created: start,
            date_updated: start,
            end_time: None,
            duration: None,
        };
        let gap = i64::try_from(count).unwrap_or(0) * JOIN_GAP_MS;
        room.complete(start + Span::from_millis(gap) + STAY + Span::from_secs(1));
        batch.push(Change::InsertRoom(room));
        for j in 0..count {
            let at = start + Span::from_millis(i64::try_from(j).unwrap_or(0) * JOIN_GAP_MS);
            let mut p = Participant::connect(
                participant_sid(next_participant),
                sid,
                account,
                format!("user-{}", j % a.identities.max(1)),
                at,
            );
            p.disconnect(at + STAY, EndReason::Left);
            batch.push(Change::InsertParticipant(p));
            next_participant += 1;
            if batch.len() >= a.batch {
                written += flush(store, &mut batch).await?;
                if a.progress && written % 100_000 < a.batch as u64 {
                    eprintln!(
                        "vroom-seed: {written} records, {:.1} s",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        }
    }
    written += flush(store, &mut batch).await?;
    let secs = started.elapsed().as_secs_f64();
    if a.progress {
        eprintln!("vroom-seed: {written} records in {secs:.1} s");
    }

    let big = room_sid(0);
    let people = format!("/v1/Rooms/{big}/Participants");
    let mid_participant = participant_sid(a.big_room / 2).to_string();
    let mid_time = date_param(
        room_start(0, a.big_room)
            + Span::from_millis(i64::try_from(a.big_room / 2).unwrap_or(0) * JOIN_GAP_MS),
    );
    let mid_room = room_sid(a.rooms / 2).to_string();
    // The middle room's name, and the SID-named room before it (even rooms are SID-named).
    let named_room = (a.rooms / 2) | 1;
    let sid_named_room = room_sid((a.rooms / 2) & !1).to_string();
    let mid_room_time = date_param(room_start(a.rooms / 2, a.big_room));
    let paths = json!({
        "participants": query(&people, &[("PageSize", "50")]),
        "participants_identity": query(&people, &[("Identity", "user-7"), ("PageSize", "50")]),
        "participants_after": query(&people, &[("DateCreatedAfter", &mid_time), ("PageSize", "50")]),
        "participants_before": query(&people, &[("DateCreatedBefore", &mid_time), ("PageSize", "50")]),
        "participants_connected": query(&people, &[("Status", "connected"), ("PageSize", "50")]),
        "participants_deep": query(&people, &[("PageSize", "50"), ("Page", "1000"), ("PageToken", &format!("PA{mid_participant}"))]),
        // Rooms lists default to Status=in-progress (none here), as Twilio's do.
        "rooms": query("/v1/Rooms", &[("Status", "completed"), ("PageSize", "50")]),
        "rooms_in_progress": query("/v1/Rooms", &[("PageSize", "50")]),
        "rooms_name": query("/v1/Rooms", &[("Status", "completed"), ("UniqueName", &format!("seed-room-{named_room}")), ("PageSize", "50")]),
        "rooms_sid_name": query("/v1/Rooms", &[("Status", "completed"), ("UniqueName", &sid_named_room), ("PageSize", "50")]),
        "rooms_after": query("/v1/Rooms", &[("Status", "completed"), ("DateCreatedAfter", &mid_room_time), ("PageSize", "50")]),
        "rooms_deep": query("/v1/Rooms", &[("Status", "completed"), ("PageSize", "50"), ("Page", "100"), ("PageToken", &format!("PA{mid_room}"))]),
    });
    Ok(json!({
        "rooms": a.rooms, "participants": a.participants, "big_room": big.to_string(),
        "big_room_participants": a.big_room, "records": written, "seconds": (secs * 10.0).round() / 10.0,
        "paths": paths,
    }))
}

/// Writes the batch in one transaction and empties it; returns how many records it held.
async fn flush(store: &dyn Store, batch: &mut Vec<Change>) -> anyhow::Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    store.apply(batch, &[]).await?;
    let n = batch.len() as u64;
    batch.clear();
    Ok(n)
}
