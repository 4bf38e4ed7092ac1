//! The server's configuration: one typed value, read once from flags and environment, checked, and
//! passed down. Every field has a documented default.

use std::net::SocketAddr;

use vroom_domain::room::CallbackMethod;
use vroom_domain::sid::{AccountSid, ApiKeySid};
use vroom_domain::time::Span;
pub use vroom_webhooks::WebhookConfig;

/// Credentials given by the operator (environment), if any. Missing halves are generated.
#[derive(Clone, Default)]
pub struct CredentialSeed {
    /// `VROOM_ACCOUNT_SID` + `VROOM_AUTH_TOKEN`.
    pub account: Option<(AccountSid, String)>,
    /// `VROOM_API_KEY_SID` + `VROOM_API_KEY_SECRET`.
    pub api_key: Option<(ApiKeySid, String)>,
}

impl std::fmt::Debug for CredentialSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSeed")
            .field("account", &self.account.as_ref().map(|a| a.0))
            .field("api_key", &self.api_key.as_ref().map(|k| k.0))
            .finish()
    }
}

/// Everything `vroom serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the store lives (`sqlite://vroom-data/vroom.db` by default).
    pub database_url: String,
    /// Base of every absolute URL in responses; derived from the listening address when `None`.
    pub public_url: Option<String>,
    /// Operator-given credentials.
    pub credentials: CredentialSeed,
    /// How long a participant whose signaling connection dropped may take to come back (30 s).
    pub reconnect_window: Span,
    /// Signaling heartbeat timeout offered to clients, ms (5000).
    pub heartbeat_ms: u64,
    /// Status-callback delivery (retries, timeouts, blocking of private targets).
    pub webhooks: WebhookConfig,
    /// Status callback for ad-hoc rooms (those created by a client connecting), like Twilio's console
    /// setting; none by default.
    pub ad_hoc_status_callback: Option<(String, CallbackMethod)>,
    /// The media server (None: no media; clients connect but their offers stay unanswered).
    pub media: Option<vroom_sfu::MediaConfig>,
    /// How long a stop may take, from the stop signal to the exit (8 s: under Docker's 10 s).
    pub shutdown_timeout: std::time::Duration,
    /// Where the `/quickstart` page gets twilio-video.js (the pinned release from a CDN by default).
    pub quickstart: crate::quickstart::SdkSource,
    /// What one client or account may use.
    pub limits: Limits,
    /// This node's id among the nodes sharing the database: unique to the node and the same
    /// across its restarts. None: `local` on SQLite (one node by construction); on PostgreSQL a
    /// fresh id per start, so a crashed node's rooms wait for their leases to expire.
    pub node_id: Option<String>,
    /// The media store: the folder recordings are written to (`vroom-data/media` by default).
    pub media_dir: std::path::PathBuf,
}

/// What one client or account may use (`[limits]`). Each limit is answered with a clear error.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// REST requests per account (none: unlimited); beyond it 429, code 20429, `Retry-After`.
    pub rest: Option<vroom_api::RateLimit>,
    /// Largest signaling WebSocket message (and frame), bytes; beyond it close code 1009.
    pub signaling_message_bytes: usize,
    /// Connections to the main listener, and how long a request's headers may take.
    pub connections: crate::listen::ConnectionLimits,
    /// Signaling frames one connection may send; beyond it the client is disconnected.
    pub signaling_messages: Option<vroom_signaling::Rate>,
    /// Signaling `update` messages (track and negotiation changes) one connection may send.
    pub signaling_updates: Option<vroom_signaling::Rate>,
    /// Rooms in progress per account (none: unlimited); beyond it 53103.
    pub max_rooms_per_account: Option<usize>,
}

/// Signaling frames per second per connection by default: twilio-video.js sends a heartbeat every
/// few seconds and a burst of `ice` messages when it connects.
pub const DEFAULT_SIGNALING_MESSAGES_PER_SECOND: f64 = 50.0;
/// `update` messages per second per connection by default (one per publish, unpublish or
/// renegotiation).
pub const DEFAULT_SIGNALING_UPDATES_PER_SECOND: f64 = 10.0;

/// A signaling rate from its setting (0: none): the burst is four seconds' worth.
#[must_use]
pub fn signaling_rate(per_second: f64) -> Option<vroom_signaling::Rate> {
    (per_second > 0.0).then(|| vroom_signaling::Rate {
        per_second,
        burst: (per_second * 4.0).max(1.0),
    })
}

/// The default of [`Limits::signaling_message_bytes`]: 1 MiB, far above any signaling message
/// (an offer for dozens of tracks is tens of KiB).
pub const DEFAULT_SIGNALING_MESSAGE_BYTES: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Self {
        Self {
            rest: None,
            signaling_message_bytes: DEFAULT_SIGNALING_MESSAGE_BYTES,
            connections: crate::listen::ConnectionLimits::default(),
            signaling_messages: signaling_rate(DEFAULT_SIGNALING_MESSAGES_PER_SECOND),
            signaling_updates: signaling_rate(DEFAULT_SIGNALING_UPDATES_PER_SECOND),
            max_rooms_per_account: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            database_url: vroom_store::open::DEFAULT_DATABASE_URL.to_owned(),
            public_url: None,
            credentials: CredentialSeed::default(),
            reconnect_window: Span::from_secs(30),
            heartbeat_ms: 5000,
            webhooks: WebhookConfig::default(),
            ad_hoc_status_callback: None,
            shutdown_timeout: std::time::Duration::from_secs(
                crate::settings::DEFAULT_SHUTDOWN_TIMEOUT_SECS,
            ),
            quickstart: crate::quickstart::SdkSource::Cdn(
                crate::quickstart::DEFAULT_CDN.to_owned(),
            ),
            media: Some(vroom_sfu::MediaConfig {
                bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                tcp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                announce_ip: None,
                max_subscriber_bitrate: None,
                workers: 0,
                socket_buffer: vroom_sfu::DEFAULT_SOCKET_BUFFER,
                media_dir: None,
                recording_media_timeout: vroom_sfu::RECORDING_MEDIA_TIMEOUT,
                turn: Some(vroom_sfu::TurnConfig {
                    bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                    tcp_bind: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                    tls: None,
                    announce_ip: None,
                    clock: std::sync::Arc::new(vroom_rooms::clock::SystemClock),
                    credential_ttl: std::time::Duration::from_secs(
                        crate::settings::DEFAULT_TURN_CREDENTIAL_TTL_SECS,
                    ),
                }),
            }),
            limits: Limits::default(),
            node_id: None,
            media_dir: std::path::PathBuf::from("vroom-data/media"),
        }
    }
}

/// Why a configuration value is unusable.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Reads a credential pair from two optional values: both or neither.
///
/// # Errors
/// When only one is set, or the SID is malformed.
pub fn pair<S: std::str::FromStr>(
    sid_name: &str,
    sid: Option<String>,
    secret_name: &str,
    secret: Option<String>,
) -> Result<Option<(S, String)>, ConfigError> {
    match (
        sid.filter(|s| !s.is_empty()),
        secret.filter(|s| !s.is_empty()),
    ) {
        (None, None) => Ok(None),
        (Some(sid), Some(secret)) => {
            let parsed = sid
                .parse::<S>()
                .map_err(|_| ConfigError(format!("{sid_name} '{sid}' is not a valid SID")))?;
            Ok(Some((parsed, secret)))
        }
        (Some(_), None) => Err(ConfigError(format!(
            "{sid_name} is set but {secret_name} is not; set both or neither"
        ))),
        (None, Some(_)) => Err(ConfigError(format!(
            "{secret_name} is set but {sid_name} is not; set both or neither"
        ))),
    }
}

/// Checks and normalises a public URL (absolute http(s), no trailing slash).
///
/// # Errors
/// When it is not an absolute http(s) URL.
pub fn public_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(['?', '#', ' ']) => Ok(trimmed.to_owned()),
        _ => Err(ConfigError(format!(
            "--public-url '{url}' must be an absolute http:// or https:// URL"
        ))),
    }
}

/// An address of this host other clients on the network can probably reach: the source address the
/// system would use towards a public address (no packet is sent). `None` if there is no route.
#[must_use]
pub fn outward_ip() -> Option<std::net::IpAddr> {
    let socket = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    socket
        .local_addr()
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified())
}

/// The public URL implied by a listening address: `http://host:port`, with `127.0.0.1` standing in
/// for an unspecified address.
#[must_use]
pub fn derived_public_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        addr.ip()
    };
    match ip {
        std::net::IpAddr::V4(v4) => format!("http://{v4}:{}", addr.port()),
        std::net::IpAddr::V6(v6) => format!("http://[{v6}]:{}", addr.port()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_and_urls() {
        let ok: Option<(AccountSid, String)> = pair(
            "A",
            Some("AC0123456789abcdef0123456789abcdef".into()),
            "T",
            Some("tok".into()),
        )
        .unwrap();
        assert!(ok.is_some());
        assert!(pair::<AccountSid>("A", Some("AC1".into()), "T", Some("t".into())).is_err());
        assert!(
            pair::<AccountSid>("A", None, "T", Some("t".into()))
                .unwrap_err()
                .0
                .contains("set both")
        );
        assert_eq!(
            public_url("https://video.example.com/").unwrap(),
            "https://video.example.com"
        );
        assert!(public_url("video.example.com").is_err());
        assert_eq!(
            derived_public_url("0.0.0.0:8080".parse().unwrap()),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            derived_public_url("[::1]:9".parse().unwrap()),
            "http://[::1]:9"
        );
    }
}
