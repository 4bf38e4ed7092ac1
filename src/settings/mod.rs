//! Every setting of `vroom`, from three layers: the TOML file (`--config`), then the environment,
//! then the command line, each overriding the one before; what none sets takes its documented
//! default (docs/configuration.md, vroom.example.toml). The result is checked once and turned into
//! the typed [`Config`](crate::config::Config) the server runs with.
//!
//! [`Settings`] is the shape of the file. Flags and environment variables (main.rs) fill a
//! `Settings` too, so layering is one [`Settings::over`] per layer.

mod resolve;

use std::path::{Path, PathBuf};

pub use resolve::Resolved;
use serde::{Deserialize, Serialize};

use crate::config::ConfigError;

/// The default listening address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default data folder (relative to the working directory).
pub const DEFAULT_DATA_DIR: &str = "vroom-data";
/// The default shutdown timeout, seconds: under Docker's default stop grace period (10 s).
pub const DEFAULT_SHUTDOWN_TIMEOUT_SECS: u64 = 8;
/// How long a TURN credential handed to a client stays valid, seconds (a day, as Twilio's).
pub const DEFAULT_TURN_CREDENTIAL_TTL_SECS: u64 = 86_400;
/// The TURN/TLS port when a certificate is given (IANA's `turns` port).
pub const DEFAULT_TURN_TLS_PORT: u16 = 5349;
/// The default log filter (`RUST_LOG` overrides it).
pub const DEFAULT_LOG_LEVEL: &str = "info,tower_http=warn,sqlx=warn";

/// How log lines are written (to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// All settings; `None` means "not set in this layer".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `host:port` to listen on; a name such as `localhost:8080` is resolved.
    pub listen: Option<String>,
    /// The data folder: the default SQLite database, and a local quickstart SDK.
    pub data_dir: Option<PathBuf>,
    /// Database URL (default `sqlite://<data_dir>/vroom.db`).
    pub database_url: Option<String>,
    /// The media store: recordings' files (default `<data_dir>/media`).
    pub media_dir: Option<PathBuf>,
    /// Base of every absolute URL in responses (default `http://<listen>`).
    pub public_url: Option<String>,
    /// This node's id among the nodes sharing a PostgreSQL database (default: `local` on SQLite, a
    /// fresh one per start on PostgreSQL).
    pub node_id: Option<String>,
    /// Seconds a stop may take before vroom exits anyway.
    pub shutdown_timeout: Option<u64>,
    /// `text` or `json`.
    pub log_format: Option<LogFormat>,
    /// A log filter such as `info` or `info,vroom_sfu=debug` (`RUST_LOG` wins).
    pub log_level: Option<String>,
    /// The account and API key.
    pub credentials: CredentialSettings,
    /// Room defaults.
    pub rooms: RoomSettings,
    /// Signaling.
    pub signaling: SignalingSettings,
    /// Status callbacks.
    pub webhooks: WebhookSettings,
    /// The media server.
    pub media: MediaSettings,
    /// The `/quickstart` page.
    pub quickstart: QuickstartSettings,
    /// Prometheus metrics.
    pub metrics: MetricsSettings,
    /// What one client or account may use.
    pub limits: LimitSettings,
}

/// `[limits]`: 0 turns a limit off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// REST requests per second per account (0: unlimited).
    pub rest_requests_per_second: Option<f64>,
    /// REST requests an account may make at once above that pace.
    pub rest_burst: Option<u32>,
    /// Largest signaling WebSocket message, bytes.
    pub signaling_message_bytes: Option<usize>,
    /// Open connections to the main listener at once (0: no cap).
    pub max_connections: Option<usize>,
    /// Open connections from one client address at once (0: no cap).
    pub max_connections_per_address: Option<usize>,
    /// Seconds a client has to send a request's headers.
    pub header_read_timeout: Option<u64>,
    /// Signaling frames per second per connection (0: unlimited).
    pub signaling_messages_per_second: Option<f64>,
    /// Signaling `update` messages per second per connection (0: unlimited).
    pub signaling_updates_per_second: Option<f64>,
    /// Rooms in progress per account (0: unlimited).
    pub max_rooms_per_account: Option<usize>,
}

/// `[credentials]`: given ones replace the stored ones; missing ones are generated at first start.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CredentialSettings {
    /// `AC…`
    pub account_sid: Option<String>,
    /// The account's auth token.
    pub auth_token: Option<String>,
    /// A file holding the auth token (for secret managers).
    pub auth_token_file: Option<PathBuf>,
    /// `SK…`
    pub api_key_sid: Option<String>,
    /// The API key's secret.
    pub api_key_secret: Option<String>,
    /// A file holding the API key's secret.
    pub api_key_secret_file: Option<PathBuf>,
}

impl std::fmt::Debug for CredentialSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialSettings")
            .field("account_sid", &self.account_sid)
            .field("api_key_sid", &self.api_key_sid)
            .finish_non_exhaustive()
    }
}

/// `[rooms]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoomSettings {
    /// Seconds a participant whose connection dropped may take to come back.
    pub reconnect_window: Option<u64>,
    /// Status callback URL of ad-hoc rooms.
    pub ad_hoc_status_callback: Option<String>,
    /// Its method, `POST` or `GET`.
    pub ad_hoc_status_callback_method: Option<String>,
}

/// `[signaling]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignalingSettings {
    /// Heartbeat timeout offered to clients, ms.
    pub heartbeat_ms: Option<u64>,
}

/// `[webhooks]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Refuse callbacks to non-public addresses.
    pub block_private: Option<bool>,
    /// Attempts per event before it is given up.
    pub max_attempts: Option<u32>,
    /// Seconds before the first retry (doubling after).
    pub first_retry: Option<u64>,
    /// Longest wait between attempts, seconds.
    pub max_retry: Option<u64>,
    /// Connect timeout, seconds.
    pub connect_timeout: Option<u64>,
    /// Whole-request timeout, seconds.
    pub request_timeout: Option<u64>,
    /// Redirects followed at most.
    pub max_redirects: Option<usize>,
    /// An HTTP(S) proxy for every callback (none by default; the environment's proxy variables
    /// are never used).
    pub proxy: Option<String>,
    /// Deliveries in flight at once.
    pub max_in_flight: Option<usize>,
    /// Deliveries in flight to one host at once.
    pub max_per_host: Option<usize>,
}

/// `[media]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    /// Run the media server.
    pub enabled: Option<bool>,
    /// Its UDP port (0: any free port).
    pub udp_port: Option<u16>,
    /// Accept ICE over TCP (passive TCP candidates), for clients whose UDP is blocked.
    pub tcp: Option<bool>,
    /// Its TCP port for ICE over TCP (0: any free port).
    pub tcp_port: Option<u16>,
    /// The address it binds (default: the listen address).
    pub bind_ip: Option<std::net::IpAddr>,
    /// The address put in ICE candidates.
    pub announce_ip: Option<std::net::IpAddr>,
    /// Most bits per second of video sent to one subscriber.
    pub max_subscriber_bitrate: Option<u64>,
    /// Media workers (0: one per core).
    pub workers: Option<usize>,
    /// Bytes of kernel buffer asked for each media worker's UDP socket, each way.
    pub socket_buffer: Option<usize>,
    /// Run the embedded TURN server (handed to clients in `iced`).
    pub turn: Option<bool>,
    /// Its UDP port (0: any free port).
    pub turn_udp_port: Option<u16>,
    /// Seconds a TURN credential handed to a client stays valid.
    pub turn_credential_ttl: Option<u64>,
    /// Run TURN over TCP too.
    pub turn_tcp: Option<bool>,
    /// Its TCP port (0: any free port).
    pub turn_tcp_port: Option<u16>,
    /// Its TLS port (with a certificate; default 5349).
    pub turn_tls_port: Option<u16>,
    /// PEM certificate chain for TURN over TLS (with `turn_tls_key`; none: no TLS listener).
    pub turn_tls_cert: Option<PathBuf>,
    /// PEM private key of that certificate.
    pub turn_tls_key: Option<PathBuf>,
    /// The host name in the `turns:` URL, one the certificate covers (default: the public URL's).
    pub turn_tls_host: Option<String>,
}

/// `[quickstart]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuickstartSettings {
    /// A local `twilio-video.min.js`.
    pub sdk: Option<PathBuf>,
    /// The npm CDN to load the pinned release from.
    pub cdn: Option<String>,
}

/// `[metrics]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// A separate `host:port` serving `/metrics` without authentication; when unset, `/metrics` is
    /// served on the main listener behind the account's credentials.
    pub listen: Option<String>,
}

/// `b` where set, else `a`.
fn pick<T>(a: Option<T>, b: Option<T>) -> Option<T> {
    b.or(a)
}

impl Settings {
    /// This layer with `top` over it: every setting `top` sets wins.
    #[must_use]
    pub fn over(self, top: Settings) -> Settings {
        let (c, t) = (self.credentials, top.credentials);
        let (r, tr) = (self.rooms, top.rooms);
        let (w, tw) = (self.webhooks, top.webhooks);
        let (m, tm) = (self.media, top.media);
        Settings {
            listen: pick(self.listen, top.listen),
            data_dir: pick(self.data_dir, top.data_dir),
            database_url: pick(self.database_url, top.database_url),
            media_dir: pick(self.media_dir, top.media_dir),
            public_url: pick(self.public_url, top.public_url),
            node_id: pick(self.node_id, top.node_id),
            shutdown_timeout: pick(self.shutdown_timeout, top.shutdown_timeout),
            log_format: pick(self.log_format, top.log_format),
            log_level: pick(self.log_level, top.log_level),
            credentials: CredentialSettings {
                account_sid: pick(c.account_sid, t.account_sid),
                auth_token: pick(c.auth_token, t.auth_token),
                auth_token_file: pick(c.auth_token_file, t.auth_token_file),
                api_key_sid: pick(c.api_key_sid, t.api_key_sid),
                api_key_secret: pick(c.api_key_secret, t.api_key_secret),
                api_key_secret_file: pick(c.api_key_secret_file, t.api_key_secret_file),
            },
            rooms: RoomSettings {
                reconnect_window: pick(r.reconnect_window, tr.reconnect_window),
                ad_hoc_status_callback: pick(r.ad_hoc_status_callback, tr.ad_hoc_status_callback),
                ad_hoc_status_callback_method: pick(
                    r.ad_hoc_status_callback_method,
                    tr.ad_hoc_status_callback_method,
                ),
            },
            signaling: SignalingSettings {
                heartbeat_ms: pick(self.signaling.heartbeat_ms, top.signaling.heartbeat_ms),
            },
            webhooks: WebhookSettings {
                block_private: pick(w.block_private, tw.block_private),
                max_attempts: pick(w.max_attempts, tw.max_attempts),
                first_retry: pick(w.first_retry, tw.first_retry),
                max_retry: pick(w.max_retry, tw.max_retry),
                connect_timeout: pick(w.connect_timeout, tw.connect_timeout),
                request_timeout: pick(w.request_timeout, tw.request_timeout),
                max_redirects: pick(w.max_redirects, tw.max_redirects),
                proxy: pick(w.proxy.clone(), tw.proxy.clone()),
                max_in_flight: pick(w.max_in_flight, tw.max_in_flight),
                max_per_host: pick(w.max_per_host, tw.max_per_host),
            },
            media: MediaSettings {
                enabled: pick(m.enabled, tm.enabled),
                udp_port: pick(m.udp_port, tm.udp_port),
                tcp: pick(m.tcp, tm.tcp),
                tcp_port: pick(m.tcp_port, tm.tcp_port),
                bind_ip: pick(m.bind_ip, tm.bind_ip),
                announce_ip: pick(m.announce_ip, tm.announce_ip),
                max_subscriber_bitrate: pick(m.max_subscriber_bitrate, tm.max_subscriber_bitrate),
                workers: pick(m.workers, tm.workers),
                socket_buffer: pick(m.socket_buffer, tm.socket_buffer),
                turn: pick(m.turn, tm.turn),
                turn_udp_port: pick(m.turn_udp_port, tm.turn_udp_port),
                turn_credential_ttl: pick(m.turn_credential_ttl, tm.turn_credential_ttl),
                turn_tcp: pick(m.turn_tcp, tm.turn_tcp),
                turn_tcp_port: pick(m.turn_tcp_port, tm.turn_tcp_port),
                turn_tls_port: pick(m.turn_tls_port, tm.turn_tls_port),
                turn_tls_cert: pick(m.turn_tls_cert, tm.turn_tls_cert),
                turn_tls_key: pick(m.turn_tls_key, tm.turn_tls_key),
                turn_tls_host: pick(m.turn_tls_host, tm.turn_tls_host),
            },
            quickstart: QuickstartSettings {
                sdk: pick(self.quickstart.sdk, top.quickstart.sdk),
                cdn: pick(self.quickstart.cdn, top.quickstart.cdn),
            },
            metrics: MetricsSettings {
                listen: pick(self.metrics.listen, top.metrics.listen),
            },
            limits: LimitSettings {
                rest_requests_per_second: pick(
                    self.limits.rest_requests_per_second,
                    top.limits.rest_requests_per_second,
                ),
                rest_burst: pick(self.limits.rest_burst, top.limits.rest_burst),
                signaling_message_bytes: pick(
                    self.limits.signaling_message_bytes,
                    top.limits.signaling_message_bytes,
                ),
                max_connections: pick(self.limits.max_connections, top.limits.max_connections),
                max_connections_per_address: pick(
                    self.limits.max_connections_per_address,
                    top.limits.max_connections_per_address,
                ),
                header_read_timeout: pick(
                    self.limits.header_read_timeout,
                    top.limits.header_read_timeout,
                ),
                signaling_messages_per_second: pick(
                    self.limits.signaling_messages_per_second,
                    top.limits.signaling_messages_per_second,
                ),
                signaling_updates_per_second: pick(
                    self.limits.signaling_updates_per_second,
                    top.limits.signaling_updates_per_second,
                ),
                max_rooms_per_account: pick(
                    self.limits.max_rooms_per_account,
                    top.limits.max_rooms_per_account,
                ),
            },
        }
    }

    /// Reads a TOML settings file.
    ///
    /// # Errors
    /// One line naming the file, the line and the key when the file cannot be read or a value is
    /// wrong.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_toml(&text).map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Parses settings from TOML text.
    ///
    /// # Errors
    /// One line with the line number, the key and what is wrong.
    pub fn from_toml(text: &str) -> Result<Settings, ConfigError> {
        let line_of = |span: Option<std::ops::Range<usize>>| {
            span.map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
        };
        let one_line = |m: &str| m.trim().replace('\n', " ");
        let deserializer = toml::de::Deserializer::parse(text).map_err(|e| {
            let at = line_of(e.span())
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            ConfigError(format!("{at}not valid TOML: {}", one_line(e.message())))
        })?;
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.inner();
            let at = line_of(inner.span())
                .map(|l| format!("line {l}: "))
                .unwrap_or_default();
            let key = if key == "." {
                String::new()
            } else {
                format!("{key}: ")
            };
            ConfigError(format!("{at}{key}{}", one_line(inner.message())))
        })
    }
}

/// The folder part of a database file path, `.` for a bare file name.
#[must_use]
pub fn parent_or_dot(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_in_order() {
        let file = Settings::from_toml(
            "listen = \"0.0.0.0:9000\"\nshutdown_timeout = 3\n[media]\nudp_port = 5000\n",
        )
        .unwrap();
        let env = Settings {
            shutdown_timeout: Some(4),
            ..Settings::default()
        };
        let flags = Settings {
            media: MediaSettings {
                udp_port: Some(6000),
                ..MediaSettings::default()
            },
            ..Settings::default()
        };
        let s = Settings::default().over(file).over(env).over(flags);
        assert_eq!(s.listen.as_deref(), Some("0.0.0.0:9000"));
        assert_eq!(s.shutdown_timeout, Some(4));
        assert_eq!(s.media.udp_port, Some(6000));
    }

    #[test]
    fn errors_are_one_line_and_name_the_key() {
        let err = |t: &str| Settings::from_toml(t).unwrap_err().0;
        assert_eq!(
            err("listen = \"x\"\n[media]\nudp_port = \"high\"\n"),
            "line 3: media.udp_port: invalid type: string \"high\", expected u16"
        );
        let unknown = err("[media]\nudp_prot = 1\n");
        assert!(
            unknown.starts_with("line 2: media.udp_prot: unknown field `udp_prot`"),
            "{unknown}"
        );
        let syntax = err("listen = \n");
        assert!(syntax.starts_with("line 1: not valid TOML"), "{syntax}");
        assert!(!syntax.contains('\n'));
        assert_eq!(
            err("log_format = \"xml\""),
            "line 1: log_format: unknown variant `xml`, expected `text` or `json`"
        );
    }
}
