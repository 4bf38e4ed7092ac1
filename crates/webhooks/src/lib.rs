//! Room status callbacks.
//!
//! # Layout
//! - [`params`]: Twilio's callback parameters for an event and the `X-Twilio-Signature` over them;
//! - [`client`]: the hardened outbound HTTP client (timeouts, redirect cap, http(s) only, optional
//!   blocking of non-public targets);
//! - [`dispatch`]: the worker that delivers the store's outbox at least once, in order per room.
//!
//! # Contracts
//! - Events are written to the outbox by the rooms hub in the same transaction as the change they
//!   describe; this crate only reads the outbox, sends, and records the outcome.
//! - Signatures use the account's auth token, whatever credentials created the room.

pub mod client;
pub mod dispatch;
pub mod params;

pub use dispatch::{Dispatcher, WebhookConfig};
