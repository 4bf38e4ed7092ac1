//! The conformance suite every `Store` implementation must pass. Each backend's tests call [`run`]
//! on a fresh, empty store. One file per part: `rooms` (unique names, paging and filters, caps),
//! `participants` (history), `outbox` (order, retries, facts, claims), `accounts` (accounts, keys,
//! shared secrets), `leases` (leases and fencing), `recordings`, `compositions`.
//!
//! Panics on the first broken expectation (it is test code).
#![allow(clippy::missing_panics_doc, clippy::too_many_lines)]

use vroom_domain::page::{Cursor, Direction, PageRequest};
use vroom_domain::participant::Participant;
use vroom_domain::room::{CreateRoom, Room, RoomStatus};
use vroom_domain::sid::{AccountSid, ParticipantSid, RoomSid};
use vroom_domain::time::Timestamp;

mod accounts;
mod compositions;
mod leases;
mod outbox;
mod participants;
mod recordings;
mod rooms;

use crate::Store;

pub(crate) const T0: Timestamp = Timestamp::from_secs(1_800_000_000);

pub(crate) fn sid_bytes(tag: u8, n: u32) -> [u8; 16] {
    let mut b = [tag; 16];
    b[12..].copy_from_slice(&n.to_be_bytes());
    b
}

pub(crate) fn account() -> AccountSid {
    AccountSid::from_bytes([0xac; 16])
}

pub(crate) fn room(n: u32, name: Option<&str>, created: Timestamp, callback: bool) -> Room {
    let req = CreateRoom {
        unique_name: name.map(str::to_owned),
        status_callback: callback.then(|| "https://example.com/cb?x=1".to_owned()),
        ..CreateRoom::default()
    };
    let (name, settings) = req.validate().expect("valid room request");
    let sid = RoomSid::from_bytes(sid_bytes(1, n));
    Room {
        sid,
        account_sid: account(),
        unique_name: name.unwrap_or_else(|| sid.to_string()),
        status: RoomStatus::InProgress,
        ad_hoc: false,
        settings,
        date_created: created,
        date_updated: created,
        end_time: None,
        duration: None,
    }
}

pub(crate) fn participant(room: &Room, n: u32, identity: &str, at: Timestamp) -> Participant {
    Participant::connect(
        ParticipantSid::from_bytes(sid_bytes(2, n)),
        room.sid,
        room.account_sid,
        identity.to_owned(),
        at,
    )
}

pub(crate) fn first(size: u32) -> PageRequest {
    PageRequest { size, cursor: None }
}

pub(crate) fn after(size: u32, sid: String) -> PageRequest {
    PageRequest {
        size,
        cursor: Some(Cursor {
            direction: Direction::After,
            sid,
        }),
    }
}

pub(crate) fn before(size: u32, sid: String) -> PageRequest {
    PageRequest {
        size,
        cursor: Some(Cursor {
            direction: Direction::Before,
            sid,
        }),
    }
}

/// Runs every check against `store`, which must be empty.
pub async fn run(store: &dyn Store) {
    rooms::rooms_and_unique_names(store).await;
    rooms::room_paging_and_filters(store).await;
    rooms::sid_named_rooms(store).await;
    participants::participants_history(store).await;
    participants::room_versions(store).await;
    outbox::outbox_order_and_retries(store).await;
    outbox::outbox_recording_and_composition_facts(store).await;
    accounts::accounts_and_keys(store).await;
    leases::leases_and_fencing(store).await;
    leases::orphaned_rooms(store).await;
    outbox::outbox_claims(store).await;
    accounts::shared_secrets(store).await;
    accounts::credential_changes(store).await;
    rooms::room_caps(store).await;
    recordings::run(store).await;
    compositions::run(store).await;
}
