//! criterion micro-benchmarks for the paths the live-path profiles name (BENCHMARKS.md, "Live
//! path"): access-token verification, REST JSON rendering, store lookups on a file database, and the
//! room state machine's apply of a join and a leave.
//!
//! ```text
//! cargo bench --bench hot_paths            # all; add a name to filter, e.g. `-- store`
//! ```

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, criterion_group, criterion_main};
use vroom_api::wire::ParticipantResource;
use vroom_domain::live::{LiveConfig, LiveRoom};
use vroom_domain::page::PageRequest;
use vroom_domain::participant::{EndReason, Participant, ParticipantStatus};
use vroom_domain::room::{CreateRoom, Room, RoomStatus};
use vroom_domain::sid::{AccountSid, ApiKeySid, IdSource, ParticipantSid, RoomSid};
use vroom_domain::time::{Span, Timestamp};
use vroom_signaling::token::{self, TokenKey};
use vroom_store::{Change, ParticipantFilter};

const T0: Timestamp = Timestamp::from_secs(1_764_600_000);

/// SIDs from a counter, so runs are repeatable.
struct Counter(AtomicU64);

impl IdSource for Counter {
    fn fresh(&self) -> [u8; 16] {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let mut b = [0u8; 16];
        b[8..].copy_from_slice(&n.to_be_bytes());
        b
    }
}

fn room(max: i64) -> Room {
    let (name, settings) = CreateRoom {
        max_participants: Some(max),
        unique_name: Some("bench".into()),
        ..CreateRoom::default()
    }
    .validate()
    .expect("valid room settings");
    Room {
        sid: RoomSid::from_bytes([7; 16]),
        account_sid: AccountSid::from_bytes([1; 16]),
        unique_name: name.unwrap_or_default(),
        status: RoomStatus::InProgress,
        ad_hoc: false,
        settings,
        date_created: T0,
        date_updated: T0,
        end_time: None,
        duration: None,
    }
}

fn participant(room: &Room, i: u64) -> Participant {
    let mut b = [0u8; 16];
    b[8..].copy_from_slice(&i.to_be_bytes());
    let start = T0 + Span::from_secs(i64::try_from(i).unwrap_or(0));
    Participant {
        sid: ParticipantSid::from_bytes(b),
        room_sid: room.sid,
        account_sid: room.account_sid,
        identity: format!("user-{i}"),
        status: ParticipantStatus::Disconnected,
        date_created: start,
        date_updated: start + Span::from_secs(60),
        start_time: start,
        end_time: Some(start + Span::from_secs(60)),
        duration: Some(60),
        end_reason: Some(EndReason::Left),
    }
}

fn tokens(c: &mut Criterion) {
    let key = TokenKey {
        account_sid: AccountSid::from_bytes([1; 16]),
        api_key_sid: ApiKeySid::from_bytes([2; 16]),
        secret: "bench-api-key-secret-0123456789ab".into(),
    };
    let jwt = token::mint(&key, "alice", Some("bench"), 3600, T0).expect("a token");
    let keys = [key];
    c.bench_function("token/verify", |b| {
        b.iter(|| token::verify(black_box(&jwt), &keys, T0).expect("valid"));
    });
}

fn json(c: &mut Criterion) {
    let r = room(50);
    let page: Vec<Participant> = (1..=50).map(|i| participant(&r, i)).collect();
    let base = "http://127.0.0.1:8080";
    c.bench_function("json/participant", |b| {
        b.iter(|| {
            serde_json::to_vec(&ParticipantResource::new(black_box(&page[0]), base))
                .expect("serializes")
        });
    });
    c.bench_function("json/page_of_50_participants", |b| {
        b.iter(|| {
            let items: Vec<ParticipantResource> = page
                .iter()
                .map(|p| ParticipantResource::new(black_box(p), base))
                .collect();
            serde_json::to_vec(&items).expect("serializes")
        });
    });
    // What a list page does now: each resource written straight into one buffer.
    c.bench_function("json/page_of_50_participants_written", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(1024 + 768 * 50);
            out.push(b'[');
            for (i, p) in page.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                ParticipantResource::new(black_box(p), base).write_json(&mut out);
            }
            out.push(b']');
            out
        });
    });
}

fn store(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    let r = room(50);
    let store = rt.block_on(async {
        let store = vroom_store::open(&url).await.expect("the store opens");
        store
            .apply(&[Change::InsertRoom(r.clone())], &[])
            .await
            .expect("room stored");
        let people: Vec<Change> = (1..=1000)
            .map(|i| Change::InsertParticipant(participant(&r, i)))
            .collect();
        store
            .apply(&people, &[])
            .await
            .expect("participants stored");
        store
    });
    let one = participant(&r, 500).sid;
    c.bench_function("store/participant_by_sid", |b| {
        b.iter(|| {
            rt.block_on(store.participant(black_box(one)))
                .expect("read")
        });
    });
    // What every authenticated REST request asks first (answered from the WAL index's header
    // while nothing is committed).
    c.bench_function("store/credentials_version", |b| {
        b.iter(|| rt.block_on(store.credentials_version()).expect("read"));
    });
    // What a participant read asks before its answer is given again from memory (from the WAL
    // index's header and a map while nothing is committed).
    c.bench_function("store/room_version", |b| {
        b.iter(|| {
            rt.block_on(store.room_version(black_box(r.sid)))
                .expect("read")
        });
    });
    c.bench_function("store/room_by_sid", |b| {
        b.iter(|| rt.block_on(store.room(black_box(r.sid))).expect("read"));
    });
    let filter = ParticipantFilter {
        status: Some(ParticipantStatus::Disconnected),
        ..ParticipantFilter::default()
    };
    let first = PageRequest {
        size: 50,
        cursor: None,
    };
    c.bench_function("store/participants_page_of_50", |b| {
        b.iter(|| {
            rt.block_on(store.list_participants(r.sid, &filter, black_box(&first)))
                .expect("read")
        });
    });
}

fn room_apply(c: &mut Criterion) {
    let ids = Counter(AtomicU64::new(0));
    let mut live = LiveRoom::new(room(50), LiveConfig::default());
    for i in 0..49 {
        live.join(T0, format!("p{i}"), &ids)
            .expect("room has space");
    }
    c.bench_function("room/join_and_leave_among_49", |b| {
        b.iter(|| {
            let (p, _) = live
                .join(T0, black_box("guest".to_owned()), &ids)
                .expect("room has space");
            live.leave(T0, p.sid, EndReason::Left).expect("connected")
        });
    });
}

criterion_group!(benches, tokens, json, store, room_apply);
criterion_main!(benches);
