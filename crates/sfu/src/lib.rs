//! vroom's media server: a selective forwarding unit built on str0m.
//!
//! # Layout
//! - `core`: [`SfuCore`], the sans-IO server: peer connections, negotiation with twilio-video.js
//!   (one description revision per connection, server offers for subscriptions), and forwarding;
//! - `msp`: the media signaling protocol's messages (dominant speaker, network quality, priorities,
//!   switch-off, render and publisher hints) and the client's `bandwidth_profile`;
//! - `adapt`: the channels of each participant and the periodic adaptation (layer bitrates, the
//!   dominant speaker, each subscriber's bandwidth shared by `allocate`, publisher hints), with
//!   `speaker` and `quality` as its pure detectors;
//! - `timers`: when each peer connection is served: str0m's timeouts rounded up to a 4 ms grid,
//!   the peers due in a min-heap, so a wake-up serves only (and every) peer due by then;
//! - `rtp`: forwarding at the RTP level (which track and layer a packet is, keyframe requests);
//! - `forward`: [`forward::Forwarder`], one track towards one subscriber: layer choice, switches on
//!   keyframes, continuous sequence numbers, timestamps and VP8 picture ids;
//! - `peer`: one peer connection, the tracks (and simulcast layers) it receives and those it sends;
//! - `sdp`: the SDP text work str0m does not do (client track ids, answer directions, CRLF);
//! - `recordings`: the core's recording commands (start, stop) and [`RecordIo`], what the
//!   writer is told to do with the files;
//! - `record`: recording a published track: the layer recorded, Opus frames, VP8 frames and H.264
//!   access units reassembled from packets despite loss and reordering (`h264`: RFC 6184
//!   depacketisation into AVCC samples, the SPS's picture size, the `avcC` record); `mkv`: the
//!   Matroska they are written as
//!   (playable at every moment: whole clusters, the Duration patched in at the end or by
//!   [`recover_recording`] after a crash); `recorder`: the thread that owns the files;
//! - `warnings`: media warnings, a recorded track without media for
//!   [`RECORDING_MEDIA_TIMEOUT`] told to its publisher if it asked ([`MediaState`]);
//! - `stats`: [`MediaStats`], totals of what the peer connections carried, from str0m's reports;
//! - `driver`: [`Media`], the media workers: Tokio tasks each owning a UDP socket (and a TCP
//!   listener) and a core; a room's peer connections all live on the worker its SID hashes to;
//! - `tcp`: ICE over TCP, the passive side: the listener and RFC 4571 framing of its connections;
//! - `relay`: [`Turn`], the embedded TURN server (webrtc-rs `turn`; UDP, TCP and TLS listeners)
//!   relaying only to the media server's workers, and [`TurnIssuer`], its TURN REST API
//!   credentials.
//!
//! # Contracts
//! - The core never reads a clock or touches a socket: time and datagrams are inputs.
//! - One UDP socket per worker carries every peer connection of its rooms (ICE-lite, BUNDLE,
//!   rtcp-mux); datagrams are routed to the connection whose ICE credentials accept them. Optionally
//!   one TCP listener per worker does the same for clients whose UDP is blocked (a `tcptype passive`
//!   candidate after the UDP one). Forwarding never crosses workers.
//! - The server answers the client's offers and makes its own offers only to add or remove the tracks
//!   a participant receives; it never sends on m-lines the client created.

mod adapt;
mod allocate;
mod core;
mod driver;
mod forward;
mod h264;
mod mkv;
pub mod msp;
mod peer;
mod quality;
mod record;
mod recorder;
mod recordings;
mod relay;
mod rtp;
pub mod sdp;
mod shrink;
mod speaker;
mod stats;
mod tcp;
mod timers;
mod warnings;

pub use crate::core::{CoreConfig, CoreOutput, PcState, ResumeState, SfuCore, Signal};
pub use crate::driver::{DEFAULT_SOCKET_BUFFER, Media, MediaConfig};
pub use crate::msp::MediaOptions;
pub use crate::recorder::{RecordingDone, RecordingOutcome, recover_recording};
pub use crate::recordings::RecordIo;
pub use crate::relay::{REFUSED_REASONS, Turn, TurnConfig, TurnIssuer, TurnTls, TurnTransport};
pub use crate::stats::{MediaStats, Totals};
pub use crate::warnings::{MediaState, RECORDING_MEDIA_TIMEOUT};

/// A client's offer on one of its peer connections, as signaling hands it to the media server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Whose peer connection it is.
    pub participant: vroom_domain::sid::ParticipantSid,
    /// The participant's room.
    pub room: vroom_domain::sid::RoomSid,
    /// The room's video codecs, in its order of preference (a new peer connection is made with them).
    pub codecs: Vec<vroom_domain::room::VideoCodec>,
    /// The peer connection's id, as twilio-video.js names it.
    pub pc: String,
    /// The description's revision: a stale one is ignored.
    pub revision: u64,
    /// The SDP.
    pub sdp: String,
}

/// Why a media operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// The client's description could not be applied (Twilio code 53403).
    #[error("Server is unable to apply a remote media description: {0}")]
    RemoteDescription(String),
    /// The media server is not running.
    #[error("the media server is not available")]
    Unavailable,
    /// Something else broke.
    #[error("media server error: {0}")]
    Internal(String),
}

impl MediaError {
    /// Twilio's code for the failure.
    #[must_use]
    pub const fn code(&self) -> u32 {
        match self {
            Self::RemoteDescription(_) => 53403,
            Self::Unavailable | Self::Internal(_) => 53401,
        }
    }
}
