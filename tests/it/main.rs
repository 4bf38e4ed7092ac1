//! vroom's integration tests: the real server on a port-0 listener with a temporary database,
//! driven over real sockets by an HTTP client, our signaling client, Twilio's own helper libraries and
//! twilio-video.js in headless Chromium.

mod browser;
mod cli;
mod cluster;
mod cluster_drain;
mod cluster_limits;
mod cluster_reads;
mod cluster_relay;
mod cluster_three;
mod cluster_timers;
mod common;
mod composition_hooks;
mod compositions;
mod conformance;
mod console;
mod cors;
mod crash;
mod docs;
mod external;
mod fidelity;
mod lifecycle;
mod limits;
mod load;
mod media_callbacks;
mod netns;
mod observe;
mod operator;
mod outbound;
mod quickstart;
mod recording_crash;
mod recording_h264;
mod recordings;
mod rest;
mod schemathesis;
mod sdk;
mod secrets;
mod shutdown;
mod signaling;
mod tenants;
mod turn;
mod webhooks;
