//! vroom's domain: rooms, participants and tracks, the rules they obey, and the live-room state
//! machine that decides what happens when people join, leave, publish, get kicked or time out.
//!
//! # Layout
//! - [`sid`]: typed SIDs (`RoomSid`, `ParticipantSid`, …) and where fresh ones come from.
//! - [`time`]: `Timestamp`/`Span`; the domain never reads a clock, time is passed in.
//! - [`clock`]: the `Clock` trait the runtimes are given (its implementations live in `vroom-rooms`).
//! - [`room`], [`participant`], [`track`], [`rules`], [`names`]: records and their validation.
//! - [`live`]: `LiveRoom`, the sans-IO state machine of a room in progress.
//! - [`recording`]: track recordings (`Recording`) and what the media server needs to record.
//! - [`composition`]: compositions, composition hooks and what they compose; [`layout`]: video
//!   layouts and the plan of one composition; [`media_settings`]: RecordingSettings and
//!   CompositionSettings.
//! - [`event`]: status-callback events produced by `LiveRoom`.
//! - [`page`]: keyset paging requests and results shared by the store and the API.
//! - [`error`]: `Error`, every broken rule with its Twilio code.
//!
//! # Contracts
//! Nothing here does I/O, reads the clock or draws randomness on its own: callers pass `Timestamp`s
//! and an `IdSource`. Nothing here knows HTTP, SQL or JSON.
#![deny(missing_docs)]

pub mod clock;
pub mod composition;
pub mod error;
pub mod event;
pub mod layout;
pub mod live;
pub mod media_settings;
pub mod names;
pub mod page;
pub mod participant;
pub mod recording;
pub mod room;
pub mod rules;
pub mod sid;
pub mod time;
pub mod track;

pub use error::Error;
