//! From layered [`Settings`] to what the server runs with: defaults filled in, secrets read from
//! their files, every value checked once. Errors name the setting as it is written in the file and
//! as a flag or environment variable, so the operator finds it whichever way it was set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use vroom_domain::room::CallbackMethod;
use vroom_domain::time::Span;

use super::{
    DEFAULT_DATA_DIR, DEFAULT_LISTEN, DEFAULT_LOG_LEVEL, DEFAULT_SHUTDOWN_TIMEOUT_SECS,
    DEFAULT_TURN_CREDENTIAL_TTL_SECS, DEFAULT_TURN_TLS_PORT, LogFormat, Settings,
};
use crate::config::{self, Config, ConfigError, CredentialSeed, WebhookConfig};
use crate::quickstart::{DEFAULT_CDN, SdkSource};

/// Everything `vroom serve` needs besides the listeners, checked.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The server's configuration (public URL still `None` when it follows the bound address).
    pub config: Config,
    /// `host:port` to listen on, not yet resolved.
    pub listen: String,
    /// The data folder.
    pub data_dir: PathBuf,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter.
    pub log_level: String,
    /// Separate `/metrics` listener, if any.
    pub metrics_listen: Option<String>,
}

fn invalid(key: &str, flag: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError(format!("{key} ({flag}): {message}"))
}

/// Reads a secret from a file, without its trailing newline.
fn secret_file(path: &Path, key: &str, env: &str) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(key, env, format!("cannot read {}: {e}", path.display())))?;
    let secret = text.trim_end_matches(['\n', '\r']).to_owned();
    if secret.is_empty() {
        return Err(invalid(key, env, format!("{} is empty", path.display())));
    }
    Ok(secret)
}

/// One secret from its value or its file, not both.
fn secret(
    value: Option<String>,
    file: Option<&Path>,
    key: &str,
    env: &str,
) -> Result<Option<String>, ConfigError> {
    match (value.filter(|v| !v.is_empty()), file) {
        (Some(_), Some(_)) => Err(ConfigError(format!(
            "credentials.{key} and credentials.{key}_file are both set ({env} and {env}_FILE); set one"
        ))),
        (Some(v), None) => Ok(Some(v)),
        (None, Some(path)) => secret_file(
            path,
            &format!("credentials.{key}_file"),
            &format!("{env}_FILE"),
        )
        .map(Some),
        (None, None) => Ok(None),
    }
}

impl Settings {
    /// The data folder in force.
    #[must_use]
    pub fn data_dir_or_default(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The database URL in force: the one set, else the SQLite file in the data folder.
    #[must_use]
    pub fn database_url_or_default(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!(
                "sqlite://{}",
                self.data_dir_or_default().join("vroom.db").display()
            )
        })
    }

    /// The listening address in force.
    #[must_use]
    pub fn listen_or_default(&self) -> String {
        self.listen
            .clone()
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned())
    }

    /// The node id, if set: 1 to 100 printable ASCII characters, no spaces.
    ///
    /// # Errors
    /// When it is empty, too long or has other characters.
    pub fn node_id(&self) -> Result<Option<String>, ConfigError> {
        match &self.node_id {
            None => Ok(None),
            Some(id)
                if (1..=100).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic()) =>
            {
                Ok(Some(id.clone()))
            }
            Some(_) => Err(invalid(
                "node_id",
                "--node-id, VROOM_NODE_ID",
                "1 to 100 printable ASCII characters without spaces",
            )),
        }
    }

    /// The public URL when it does not depend on the bound port: the one set, else `http://<listen>`
    /// (an unspecified address shown as 127.0.0.1). `None` for port 0, known only once bound.
    ///
    /// # Errors
    /// When the URL set is not an absolute http(s) URL.
    pub fn public_url_or_derived(&self) -> Result<Option<String>, ConfigError> {
        if let Some(url) = &self.public_url {
            return config::public_url(url)
                .map(Some)
                .map_err(|e| invalid("public_url", "--public-url, VROOM_PUBLIC_URL", e.0));
        }
        let listen = self.listen_or_default();
        if let Ok(addr) = listen.parse::<SocketAddr>() {
            return Ok((addr.port() != 0).then(|| config::derived_public_url(addr)));
        }
        Ok(listen
            .rsplit_once(':')
            .filter(|(_, port)| *port != "0")
            .map(|_| format!("http://{listen}")))
    }

    /// The credentials given in the settings (environment or file), secrets read from their files.
    ///
    /// # Errors
    /// A half-given pair, a malformed SID or an unreadable secret file.
    pub fn credential_seed(&self) -> Result<CredentialSeed, ConfigError> {
        let c = &self.credentials;
        let auth_token = secret(
            c.auth_token.clone(),
            c.auth_token_file.as_deref(),
            "auth_token",
            "VROOM_AUTH_TOKEN",
        )?;
        let api_key_secret = secret(
            c.api_key_secret.clone(),
            c.api_key_secret_file.as_deref(),
            "api_key_secret",
            "VROOM_API_KEY_SECRET",
        )?;
        Ok(CredentialSeed {
            account: config::pair(
                "VROOM_ACCOUNT_SID",
                c.account_sid.clone(),
                "VROOM_AUTH_TOKEN",
                auth_token,
            )?,
            api_key: config::pair(
                "VROOM_API_KEY_SID",
                c.api_key_sid.clone(),
                "VROOM_API_KEY_SECRET",
                api_key_secret,
            )?,
        })
    }

    /// Checks every setting and fills in the defaults. `bound_ip` is the address the main listener
    /// resolved to (the media server binds it unless told otherwise).
    ///
    /// # Errors
    /// The first wrong setting, named.
    pub fn resolve(&self, bound_ip: std::net::IpAddr) -> Result<Resolved, ConfigError> {
        let defaults = Config::default();
        let r = &self.rooms;
        let method = r.ad_hoc_status_callback_method.as_deref().unwrap_or("POST");
        let method = CallbackMethod::parse(method).map_err(|e| {
            invalid(
                "rooms.ad_hoc_status_callback_method",
                "--ad-hoc-status-callback-method",
                e,
            )
        })?;
        let ad_hoc_status_callback = match &r.ad_hoc_status_callback {
            None => None,
            Some(url) => {
                vroom_domain::room::validate_callback_url(url).map_err(|e| {
                    invalid(
                        "rooms.ad_hoc_status_callback",
                        "--ad-hoc-status-callback",
                        e,
                    )
                })?;
                Some((url.clone(), method))
            }
        };
        let secs = |v: Option<u64>, default: Span| {
            v.map_or(default, |s| {
                Span::from_secs(i64::try_from(s).unwrap_or(i64::MAX / 1000))
            })
        };
        let w = &self.webhooks;
        let wd = WebhookConfig::default();
        let webhooks = WebhookConfig {
            block_private: w.block_private.unwrap_or(wd.block_private),
            max_attempts: w.max_attempts.unwrap_or(wd.max_attempts),
            first_retry: secs(w.first_retry, wd.first_retry),
            max_retry: secs(w.max_retry, wd.max_retry),
            connect_timeout: w
                .connect_timeout
                .map_or(wd.connect_timeout, Duration::from_secs),
            request_timeout: w
                .request_timeout
                .map_or(wd.request_timeout, Duration::from_secs),
            max_redirects: w.max_redirects.unwrap_or(wd.max_redirects),
            max_in_flight: w.max_in_flight.unwrap_or(wd.max_in_flight).max(1),
            max_per_host: w.max_per_host.unwrap_or(wd.max_per_host).max(1),
            proxy: w.proxy.clone().filter(|p| !p.is_empty()),
        };
        if let Some(proxy) = &webhooks.proxy {
            let scheme = reqwest::Url::parse(proxy).map(|u| u.scheme().to_owned());
            if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                return Err(invalid(
                    "webhooks.proxy",
                    "--webhook-proxy, VROOM_WEBHOOK_PROXY",
                    format!("'{proxy}' is not an http:// or https:// proxy URL"),
                ));
            }
        }
        if webhooks.max_attempts == 0 {
            return Err(invalid(
                "webhooks.max_attempts",
                "config file",
                "must be at least 1",
            ));
        }
        let m = &self.media;
        let public_url = self.public_url_or_derived()?;
        let media = match m.enabled.unwrap_or(true) {
            false => None,
            true => {
                let bind_ip = m.bind_ip.unwrap_or(bound_ip);
                let announce_ip = m
                    .announce_ip
                    .or_else(|| bind_ip.is_unspecified().then(config::outward_ip).flatten());
                Some(vroom_sfu::MediaConfig {
                    bind: SocketAddr::new(bind_ip, m.udp_port.unwrap_or(0)),
                    tcp_bind: m
                        .tcp
                        .unwrap_or(true)
                        .then(|| SocketAddr::new(bind_ip, m.tcp_port.unwrap_or(0))),
                    announce_ip,
                    max_subscriber_bitrate: m.max_subscriber_bitrate.filter(|b| *b > 0),
                    workers: m.workers.unwrap_or(0),
                    socket_buffer: m.socket_buffer.unwrap_or(vroom_sfu::DEFAULT_SOCKET_BUFFER),
                    media_dir: None,
                    recording_media_timeout: vroom_sfu::RECORDING_MEDIA_TIMEOUT,
                    turn: turn_config(m, bind_ip, announce_ip, public_url.as_deref())?,
                })
            }
        };
        let data_dir = self.data_dir_or_default();
        let q = &self.quickstart;
        if let Some(p) = q.sdk.as_ref().filter(|p| !p.is_file()) {
            return Err(invalid(
                "quickstart.sdk",
                "--quickstart-sdk, VROOM_QUICKSTART_SDK",
                format!("{} is not a file", p.display()),
            ));
        }
        let cdn = q.cdn.clone().unwrap_or_else(|| DEFAULT_CDN.to_owned());
        config::public_url(&cdn).map_err(|_| {
            invalid(
                "quickstart.cdn",
                "--quickstart-cdn, VROOM_QUICKSTART_CDN",
                format!("'{cdn}' must be an absolute http:// or https:// URL"),
            )
        })?;
        let heartbeat_ms = self.signaling.heartbeat_ms.unwrap_or(defaults.heartbeat_ms);
        if heartbeat_ms == 0 {
            return Err(invalid(
                "signaling.heartbeat_ms",
                "config file",
                "must be at least 1",
            ));
        }
        let log_level = self
            .log_level
            .clone()
            .unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
        tracing_subscriber::EnvFilter::try_new(&log_level)
            .map_err(|e| invalid("log_level", "--log-level, VROOM_LOG_LEVEL", e))?;
        let limits = self.limits()?;
        let config = Config {
            limits,
            database_url: self.database_url_or_default(),
            public_url,
            credentials: self.credential_seed()?,
            reconnect_window: secs(r.reconnect_window, defaults.reconnect_window),
            heartbeat_ms,
            webhooks,
            ad_hoc_status_callback,
            media,
            shutdown_timeout: Duration::from_secs(
                self.shutdown_timeout
                    .unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT_SECS),
            ),
            quickstart: SdkSource::choose(q.sdk.clone(), Some(&data_dir), &cdn),
            node_id: self.node_id()?,
            media_dir: self
                .media_dir
                .clone()
                .unwrap_or_else(|| data_dir.join("media")),
        };
        Ok(Resolved {
            config,
            listen: self.listen_or_default(),
            data_dir,
            log_format: self.log_format.unwrap_or(LogFormat::Text),
            log_level,
            metrics_listen: self.metrics.listen.clone().filter(|l| !l.is_empty()),
        })
    }
}

impl Settings {
    /// `[limits]`, checked.
    fn limits(&self) -> Result<crate::config::Limits, ConfigError> {
        let l = &self.limits;
        let rate = l.rest_requests_per_second.unwrap_or(0.0);
        if !rate.is_finite() || rate < 0.0 {
            return Err(invalid(
                "limits.rest_requests_per_second",
                "config file",
                "must be 0 (no limit) or a positive number",
            ));
        }
        let rest = (rate > 0.0).then(|| vroom_api::RateLimit {
            per_second: rate,
            // By default an account may send one second's worth at once.
            burst: f64::from(l.rest_burst.unwrap_or(0))
                .max(rate.ceil())
                .max(1.0),
        });
        let signaling_message_bytes = l
            .signaling_message_bytes
            .unwrap_or(crate::config::DEFAULT_SIGNALING_MESSAGE_BYTES);
        // Below a few KiB a `connect` with a token and an offer would not fit.
        if signaling_message_bytes < 16 * 1024 {
            return Err(invalid(
                "limits.signaling_message_bytes",
                "config file",
                "must be at least 16384",
            ));
        }
        let defaults = crate::listen::ConnectionLimits::default();
        let header_read_timeout = l
            .header_read_timeout
            .map_or(defaults.header_read_timeout, Duration::from_secs);
        if header_read_timeout.is_zero() {
            return Err(invalid(
                "limits.header_read_timeout",
                "config file",
                "must be at least 1 second",
            ));
        }
        let connections = crate::listen::ConnectionLimits {
            max_connections: l.max_connections.unwrap_or(defaults.max_connections),
            max_connections_per_address: l
                .max_connections_per_address
                .unwrap_or(defaults.max_connections_per_address),
            header_read_timeout,
        };
        let rate = |value: Option<f64>, default: f64, key: &str| {
            let v = value.unwrap_or(default);
            if v.is_finite() && v >= 0.0 {
                Ok(crate::config::signaling_rate(v))
            } else {
                Err(invalid(
                    key,
                    "config file",
                    "must be 0 (no limit) or a positive number",
                ))
            }
        };
        Ok(crate::config::Limits {
            rest,
            signaling_message_bytes,
            connections,
            signaling_messages: rate(
                l.signaling_messages_per_second,
                crate::config::DEFAULT_SIGNALING_MESSAGES_PER_SECOND,
                "limits.signaling_messages_per_second",
            )?,
            signaling_updates: rate(
                l.signaling_updates_per_second,
                crate::config::DEFAULT_SIGNALING_UPDATES_PER_SECOND,
                "limits.signaling_updates_per_second",
            )?,
            max_rooms_per_account: l.max_rooms_per_account.filter(|n| *n > 0),
        })
    }
}

/// The embedded TURN server's settings (`media.turn*`), checked: a TLS certificate needs its key
/// and both files must exist.
fn turn_config(
    m: &super::MediaSettings,
    bind_ip: std::net::IpAddr,
    announce_ip: Option<std::net::IpAddr>,
    public_url: Option<&str>,
) -> Result<Option<vroom_sfu::TurnConfig>, ConfigError> {
    if !m.turn.unwrap_or(true) {
        return Ok(None);
    }
    let pair = (
        "media.turn_tls_cert",
        "--turn-tls-cert, VROOM_TURN_TLS_CERT",
        "media.turn_tls_key",
        "--turn-tls-key, VROOM_TURN_TLS_KEY",
    );
    let tls = match (&m.turn_tls_cert, &m.turn_tls_key) {
        (None, None) => None,
        (Some(_), None) => return Err(invalid(pair.2, pair.3, "set it with media.turn_tls_cert")),
        (None, Some(_)) => return Err(invalid(pair.0, pair.1, "set it with media.turn_tls_key")),
        (Some(cert), Some(key)) => {
            for (path, key_name, flag) in [(cert, pair.0, pair.1), (key, pair.2, pair.3)] {
                if !path.is_file() {
                    return Err(invalid(
                        key_name,
                        flag,
                        format!("{} is not a file", path.display()),
                    ));
                }
            }
            // The `turns:` URL names a host the certificate covers: as set, else the public URL's
            // host when it is a name (an IP address is only covered by an IP certificate).
            let host = m
                .turn_tls_host
                .clone()
                .filter(|h| !h.is_empty())
                .or_else(|| {
                    let url = reqwest::Url::parse(public_url?).ok()?;
                    url.domain().map(str::to_owned)
                });
            Some(vroom_sfu::TurnTls {
                bind: SocketAddr::new(bind_ip, m.turn_tls_port.unwrap_or(DEFAULT_TURN_TLS_PORT)),
                cert: cert.clone(),
                key: key.clone(),
                host,
            })
        }
    };
    Ok(Some(vroom_sfu::TurnConfig {
        bind: SocketAddr::new(bind_ip, m.turn_udp_port.unwrap_or(0)),
        tcp_bind: m
            .turn_tcp
            .unwrap_or(true)
            .then(|| SocketAddr::new(bind_ip, m.turn_tcp_port.unwrap_or(0))),
        tls,
        announce_ip,
        credential_ttl: Duration::from_secs(
            m.turn_credential_ttl
                .unwrap_or(DEFAULT_TURN_CREDENTIAL_TTL_SECS)
                .max(1),
        ),
        clock: Arc::new(vroom_rooms::clock::SystemClock),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(toml: &str) -> Result<Resolved, ConfigError> {
        Settings::from_toml(toml)
            .unwrap()
            .resolve(std::net::IpAddr::from([127, 0, 0, 1]))
    }

    #[test]
    fn turn_over_tls_needs_a_certificate_and_its_key_and_names_the_public_host() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        std::fs::write(&cert, "x").unwrap();
        let c = cert.display();
        let e = resolve(&format!("[media]\nturn_tls_cert = \"{c}\"")).unwrap_err();
        assert!(e.0.starts_with("media.turn_tls_key"), "{e}");
        let e = resolve(&format!(
            "[media]\nturn_tls_cert = \"{c}\"\nturn_tls_key = \"/nonexistent/k.pem\""
        ))
        .unwrap_err();
        assert!(e.0.contains("/nonexistent/k.pem is not a file"), "{e}");
        let r = resolve(&format!(
            "public_url = \"https://video.example.com\"\n[media]\nturn_tls_cert = \"{c}\"\nturn_tls_key = \"{c}\""
        ))
        .unwrap();
        let turn = r.config.media.unwrap().turn.unwrap();
        let tls = turn.tls.unwrap();
        assert_eq!(
            (tls.bind.port(), tls.host.as_deref()),
            (DEFAULT_TURN_TLS_PORT, Some("video.example.com"))
        );
        assert!(turn.tcp_bind.is_some(), "TURN over TCP is on by default");
        let r = resolve("[media]\nturn_tcp = false").unwrap();
        assert!(r.config.media.unwrap().turn.unwrap().tcp_bind.is_none());
    }

    #[test]
    fn defaults_and_derived_values() {
        let r = resolve("").unwrap();
        assert_eq!(r.listen, DEFAULT_LISTEN);
        assert_eq!(r.config.database_url, "sqlite://vroom-data/vroom.db");
        assert_eq!(
            r.config.public_url.as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(r.config.shutdown_timeout, Duration::from_secs(8));
        let r = resolve("listen = \"localhost:9090\"\ndata_dir = \"/srv/v\"").unwrap();
        assert_eq!(
            r.config.public_url.as_deref(),
            Some("http://localhost:9090")
        );
        assert_eq!(r.config.database_url, "sqlite:///srv/v/vroom.db");
        assert_eq!(
            resolve("listen = \"127.0.0.1:0\"")
                .unwrap()
                .config
                .public_url,
            None
        );
    }

    #[test]
    fn secrets_come_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "s3cret\n").unwrap();
        let r = resolve(&format!(
            "[credentials]\napi_key_sid = \"SK0123456789abcdef0123456789abcdef\"\napi_key_secret_file = \"{}\"",
            file.display()
        ))
        .unwrap();
        assert_eq!(r.config.credentials.api_key.unwrap().1, "s3cret");
        let missing = resolve("[credentials]\nauth_token_file = \"/no/such/file\"").unwrap_err();
        assert!(
            missing.0.starts_with(
                "credentials.auth_token_file (VROOM_AUTH_TOKEN_FILE): cannot read /no/such/file"
            ),
            "{}",
            missing.0
        );
    }

    #[test]
    fn wrong_values_are_named() {
        let err = |t: &str| resolve(t).unwrap_err().0;
        assert!(err("public_url = \"example.com\"").starts_with("public_url (--public-url"));
        assert!(err("node_id = \"\"").starts_with("node_id (--node-id"));
        assert!(err("node_id = \"a b\"").starts_with("node_id (--node-id"));
        assert_eq!(
            resolve("node_id = \"vroom-1\"")
                .unwrap()
                .config
                .node_id
                .as_deref(),
            Some("vroom-1")
        );
        assert_eq!(resolve("").unwrap().config.node_id, None);
        assert!(err("[quickstart]\ncdn = \"ftp://x\"").starts_with("quickstart.cdn"));
        assert!(
            err("[rooms]\nad_hoc_status_callback_method = \"PUT\"")
                .starts_with("rooms.ad_hoc_status_callback_method")
        );
    }

    #[test]
    fn parent_folder() {
        assert_eq!(
            super::super::parent_or_dot(Path::new("x.db")),
            PathBuf::from(".")
        );
    }
}

#[cfg(test)]
mod example {
    use super::*;

    const EXAMPLE: &str = include_str!("../../vroom.example.toml");

    /// Every setting's key, as `section.key` (or `key` at the top).
    fn keys() -> Vec<String> {
        let all = serde_json::to_value(Settings::default()).expect("settings serialize");
        let mut keys = Vec::new();
        for (k, v) in all.as_object().expect("an object") {
            match v.as_object() {
                Some(section) => keys.extend(section.keys().map(|s| format!("{k}.{s}"))),
                None => keys.push(k.clone()),
            }
        }
        keys
    }

    #[test]
    fn the_example_file_lists_every_setting_with_its_default() {
        let parsed = Settings::from_toml(EXAMPLE).expect("the example parses");
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let (example, default) = (
            parsed.resolve(ip).unwrap(),
            Settings::default().resolve(ip).unwrap(),
        );
        assert_eq!(
            format!("{example:?}"),
            format!("{default:?}"),
            "the defaults it shows are the defaults"
        );
        for key in keys() {
            let (section, name) = key.rsplit_once('.').unwrap_or(("", &key));
            let body = if section.is_empty() {
                EXAMPLE.split("\n[").next().unwrap_or("")
            } else {
                let header = format!("\n[{section}]\n");
                let start = EXAMPLE
                    .find(&header)
                    .unwrap_or_else(|| panic!("no [{section}]"));
                EXAMPLE[start + header.len()..]
                    .split("\n[")
                    .next()
                    .unwrap_or("")
            };
            let listed = body.lines().any(|l| {
                let l = l.trim_start_matches('#').trim_start();
                l.strip_prefix(name)
                    .is_some_and(|r| r.trim_start().starts_with('='))
            });
            assert!(listed, "vroom.example.toml does not list {key}");
        }
    }
}
