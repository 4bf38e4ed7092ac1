//! The `vroom` command: `serve`, `token`, `credentials`, `config`, and the operator commands
//! `rooms` and `participants` (against a running server's REST API, `remote/`).
//!
//! Every command reads the same settings: the TOML file given with `--config`, then the
//! environment, then flags (see `vroom::settings`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vroom::config::ConfigError;
use vroom::settings::{
    CredentialSettings, LogFormat, MediaSettings, MetricsSettings, QuickstartSettings,
    RoomSettings, Settings, WebhookSettings,
};
use vroom_domain::time::Timestamp;
use vroom_signaling::token::{self, TokenKey};

mod remote;
mod serve;
mod tenants_cli;

#[derive(Parser)]
#[command(
    name = "vroom",
    version,
    about = "A self-hosted video rooms server that speaks Twilio Programmable Video's API"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Settings every command reads.
#[derive(clap::Args)]
struct GlobalArgs {
    /// A TOML settings file (every key: vroom.example.toml); environment and flags override it.
    #[arg(long, env = "VROOM_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// The data folder: the default database and a local quickstart SDK [default: vroom-data].
    #[arg(long, env = "VROOM_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL [default: sqlite://<data folder>/vroom.db].
    #[arg(long, env = "VROOM_DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Log lines as text or JSON (to stderr) [default: text].
    #[arg(long, env = "VROOM_LOG_FORMAT", global = true)]
    log_format: Option<LogFormat>,
    /// Log filter, e.g. info or info,vroom_sfu=debug (RUST_LOG wins) [default: info].
    #[arg(long, env = "VROOM_LOG_LEVEL", global = true)]
    log_level: Option<String>,
}

#[derive(clap::Args, Default)]
struct ServeArgs {
    /// Address to listen on (host:port; names such as localhost:8080 resolve) [default: 127.0.0.1:8080].
    #[arg(long, env = "VROOM_LISTEN")]
    listen: Option<String>,
    /// Base of every absolute URL in responses [default: http://<listen address>].
    #[arg(long, env = "VROOM_PUBLIC_URL")]
    public_url: Option<String>,
    /// This node's id among the nodes sharing a PostgreSQL database; the same across its restarts,
    /// so a restarted node takes its rooms back at once [default: `local` on SQLite, a fresh one
    /// per start on PostgreSQL].
    #[arg(long, env = "VROOM_NODE_ID")]
    node_id: Option<String>,
    /// The media store, where recordings are written [default: <data folder>/media].
    #[arg(long, env = "VROOM_MEDIA_DIR")]
    media_dir: Option<PathBuf>,
    /// Seconds a stop (SIGTERM, SIGINT) may take before vroom exits anyway [default: 8].
    #[arg(long, env = "VROOM_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: Option<u64>,
    /// Refuse status callbacks to private, loopback and link-local addresses (recommended in
    /// production; off by default so callbacks to local development servers work).
    #[arg(long, env = "VROOM_WEBHOOK_BLOCK_PRIVATE", num_args = 0..=1, default_missing_value = "true")]
    webhook_block_private: Option<bool>,
    /// An http(s) proxy for status callbacks [default: none; HTTP_PROXY and the like are ignored].
    #[arg(long, env = "VROOM_WEBHOOK_PROXY")]
    webhook_proxy: Option<String>,
    /// Status callback URL for ad-hoc rooms (rooms created by a client connecting to an unknown name).
    #[arg(long, env = "VROOM_AD_HOC_STATUS_CALLBACK")]
    ad_hoc_status_callback: Option<String>,
    /// HTTP method of the ad-hoc rooms' status callback: POST or GET [default: POST].
    #[arg(long, env = "VROOM_AD_HOC_STATUS_CALLBACK_METHOD")]
    ad_hoc_status_callback_method: Option<String>,
    /// UDP port of the media server (one port carries every peer connection) [default: 0, any free port].
    #[arg(long, env = "VROOM_RTC_UDP_PORT")]
    rtc_udp_port: Option<u16>,
    /// TCP port of the media server for ICE over TCP, used by clients whose UDP is blocked
    /// [default: 0, any free port].
    #[arg(long, env = "VROOM_RTC_TCP_PORT")]
    rtc_tcp_port: Option<u16>,
    /// Do not accept ICE over TCP: media only over UDP (no TCP listener, no TCP candidates).
    #[arg(long, env = "VROOM_RTC_NO_TCP", num_args = 0..=1, default_missing_value = "true")]
    rtc_no_tcp: Option<bool>,
    /// UDP port of the embedded TURN server, whose URL and credentials clients get in `iced`
    /// [default: 0, any free port].
    #[arg(long, env = "VROOM_TURN_UDP_PORT")]
    turn_udp_port: Option<u16>,
    /// Seconds a TURN credential handed to a client stays valid [default: 86400].
    #[arg(long, env = "VROOM_TURN_CREDENTIAL_TTL")]
    turn_credential_ttl: Option<u64>,
    /// TCP port of the embedded TURN server (TURN over TCP, for clients whose UDP is blocked)
    /// [default: 0, any free port].
    #[arg(long, env = "VROOM_TURN_TCP_PORT")]
    turn_tcp_port: Option<u16>,
    /// Do not run TURN over TCP.
    #[arg(long, env = "VROOM_TURN_NO_TCP", num_args = 0..=1, default_missing_value = "true")]
    turn_no_tcp: Option<bool>,
    /// PEM certificate chain for TURN over TLS (with --turn-tls-key) [default: none, no TLS].
    #[arg(long, env = "VROOM_TURN_TLS_CERT")]
    turn_tls_cert: Option<PathBuf>,
    /// PEM private key of the TURN/TLS certificate.
    #[arg(long, env = "VROOM_TURN_TLS_KEY")]
    turn_tls_key: Option<PathBuf>,
    /// TCP port of TURN over TLS (443 reaches clients that may only use HTTPS) [default: 5349].
    #[arg(long, env = "VROOM_TURN_TLS_PORT")]
    turn_tls_port: Option<u16>,
    /// Host name in the turns: URL clients get; the certificate must cover it [default: the host
    /// of --public-url].
    #[arg(long, env = "VROOM_TURN_TLS_HOST")]
    turn_tls_host: Option<String>,
    /// Do not run the embedded TURN server (clients that ask get no ICE servers).
    #[arg(long, env = "VROOM_NO_TURN", num_args = 0..=1, default_missing_value = "true")]
    no_turn: Option<bool>,
    /// IP address the media server binds [default: the --listen address].
    #[arg(long, env = "VROOM_RTC_BIND_IP")]
    rtc_bind_ip: Option<std::net::IpAddr>,
    /// IP address announced to clients in ICE candidates: set it to the public address when vroom
    /// is behind NAT [default: the bound address; for an unspecified one, this host's outward address].
    #[arg(long, env = "VROOM_RTC_ANNOUNCE_IP")]
    rtc_announce_ip: Option<std::net::IpAddr>,
    /// Most bits per second of video the media server sends any one subscriber; its tracks share it
    /// by priority [default: no limit beyond the client's own maxSubscriptionBitrate].
    #[arg(long, env = "VROOM_RTC_MAX_SUBSCRIBER_BITRATE")]
    rtc_max_subscriber_bitrate: Option<u64>,
    /// Media workers, each a task with its own UDP socket; rooms are spread over them (with a fixed
    /// --rtc-udp-port P they take ports P, P+1, …) [default: one per core].
    #[arg(long, env = "VROOM_RTC_WORKERS")]
    rtc_workers: Option<usize>,
    /// Bytes of kernel buffer asked for each media worker's UDP socket, each way; beyond
    /// net.core.rmem_max only with CAP_NET_ADMIN [default: 16777216].
    #[arg(long, env = "VROOM_RTC_SOCKET_BUFFER")]
    rtc_socket_buffer: Option<usize>,
    /// Run without the media server: clients connect and signal, but no audio or video flows.
    #[arg(long, env = "VROOM_NO_MEDIA", num_args = 0..=1, default_missing_value = "true")]
    no_media: Option<bool>,
    /// A local twilio-video.min.js for the /quickstart page [default: twilio-video.min.js in the
    /// data folder if there is one, else the page loads the pinned release from --quickstart-cdn].
    #[arg(long, env = "VROOM_QUICKSTART_SDK")]
    quickstart_sdk: Option<PathBuf>,
    /// The npm CDN the /quickstart page loads twilio-video.js from without a local copy
    /// [default: https://unpkg.com].
    #[arg(long, env = "VROOM_QUICKSTART_CDN")]
    quickstart_cdn: Option<String>,
    /// A separate address serving /metrics without authentication [default: none; /metrics is
    /// served on --listen behind the account's credentials].
    #[arg(long, env = "VROOM_METRICS_LISTEN")]
    metrics_listen: Option<String>,
}

/// The server settings the environment gives (no flags).
#[derive(Parser)]
struct EnvOnly {
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (REST API at /v1, signaling at /signaling).
    Serve(Box<ServeArgs>),
    /// Print an access token for a participant, like Twilio's AccessToken with a VideoGrant.
    Token {
        /// The participant's identity.
        #[arg(long)]
        identity: String,
        /// Restrict the token to this room name.
        #[arg(long)]
        room: Option<String>,
        /// Lifetime in seconds (at most 86400).
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
    },
    /// Show the account and API key this server accepts, and its URL.
    Credentials,
    /// Print the settings in force (file, environment and flags combined), secrets hidden; takes
    /// the same flags as `serve`.
    Config(Box<ServeArgs>),
    /// List, create, show and end rooms of a running server (its REST API, with the API key from
    /// the environment or the data folder).
    Rooms {
        #[command(flatten)]
        remote: remote::RemoteArgs,
        #[command(subcommand)]
        command: remote::RoomsCommand,
    },
    /// List, show and kick a room's participants, and see their tracks, on a running server.
    Participants {
        #[command(flatten)]
        remote: remote::RemoteArgs,
        #[command(subcommand)]
        command: remote::ParticipantsCommand,
    },
    /// Create and list accounts (tenants, each with its own auth token and keys), in the server's
    /// database.
    Accounts {
        #[command(subcommand)]
        command: tenants_cli::AccountsCommand,
    },
    /// Create, list and revoke API keys, in the server's database (a running server follows at once).
    Keys {
        #[command(subcommand)]
        command: tenants_cli::KeysCommand,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The credentials given in the environment (values or `*_FILE` paths).
fn credentials_from_env() -> CredentialSettings {
    CredentialSettings {
        account_sid: env("VROOM_ACCOUNT_SID"),
        auth_token: env("VROOM_AUTH_TOKEN"),
        auth_token_file: env("VROOM_AUTH_TOKEN_FILE").map(PathBuf::from),
        api_key_sid: env("VROOM_API_KEY_SID"),
        api_key_secret: env("VROOM_API_KEY_SECRET"),
        api_key_secret_file: env("VROOM_API_KEY_SECRET_FILE").map(PathBuf::from),
    }
}

/// The settings in force: file, then environment and flags (clap reads both).
fn settings(global: &GlobalArgs, serve: &ServeArgs) -> Result<Settings, ConfigError> {
    let file = match &global.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    let top = Settings {
        listen: serve.listen.clone(),
        data_dir: global.data_dir.clone(),
        database_url: global.database_url.clone(),
        media_dir: serve.media_dir.clone(),
        public_url: serve.public_url.clone(),
        node_id: serve.node_id.clone(),
        shutdown_timeout: serve.shutdown_timeout,
        log_format: global.log_format,
        log_level: global.log_level.clone(),
        credentials: credentials_from_env(),
        rooms: RoomSettings {
            reconnect_window: None,
            ad_hoc_status_callback: serve.ad_hoc_status_callback.clone(),
            ad_hoc_status_callback_method: serve.ad_hoc_status_callback_method.clone(),
        },
        signaling: vroom::settings::SignalingSettings::default(),
        webhooks: WebhookSettings {
            block_private: serve.webhook_block_private,
            proxy: serve.webhook_proxy.clone(),
            ..WebhookSettings::default()
        },
        media: MediaSettings {
            enabled: serve.no_media.map(|off| !off),
            udp_port: serve.rtc_udp_port,
            tcp: serve.rtc_no_tcp.map(|off| !off),
            tcp_port: serve.rtc_tcp_port,
            turn: serve.no_turn.map(|off| !off),
            turn_udp_port: serve.turn_udp_port,
            turn_credential_ttl: serve.turn_credential_ttl,
            turn_tcp: serve.turn_no_tcp.map(|off| !off),
            turn_tcp_port: serve.turn_tcp_port,
            turn_tls_port: serve.turn_tls_port,
            turn_tls_cert: serve.turn_tls_cert.clone(),
            turn_tls_key: serve.turn_tls_key.clone(),
            turn_tls_host: serve.turn_tls_host.clone(),
            bind_ip: serve.rtc_bind_ip,
            announce_ip: serve.rtc_announce_ip,
            max_subscriber_bitrate: serve.rtc_max_subscriber_bitrate,
            workers: serve.rtc_workers,
            socket_buffer: serve.rtc_socket_buffer,
        },
        quickstart: QuickstartSettings {
            sdk: serve.quickstart_sdk.clone(),
            cdn: serve.quickstart_cdn.clone(),
        },
        metrics: MetricsSettings {
            listen: serve.metrics_listen.clone(),
        },
        // Limits are set in the settings file only.
        limits: vroom::settings::LimitSettings::default(),
    };
    Ok(file.over(top))
}

fn print_credentials(c: &vroom_store::StoredCredentials, base: &str) {
    println!("  Account SID:     {}", c.account_sid);
    println!("  Auth token:      {}", c.auth_token);
    println!("  API key SID:     {}", c.api_key_sid);
    println!("  API key secret:  {}", c.api_key_secret);
    println!();
    println!("Point Twilio's helper libraries at this server, for example in Python:");
    println!(
        "  client = Client(\"{}\", \"<API key secret>\", \"{}\")",
        c.api_key_sid, c.account_sid
    );
    println!("  client.video.base_url = \"{base}\"");
    println!(
        "and twilio-video.js with connect(token, {{ wsServer: \"{}/signaling\", insights: false }}).",
        base.replacen("http", "ws", 1)
    );
    println!("Mint a token with: vroom token --identity alice --room my-room");
}

/// The credentials a server with these settings accepts: the environment's, else the stored ones;
/// and where they were read from.
async fn stored_credentials(
    settings: &Settings,
) -> anyhow::Result<(vroom_store::StoredCredentials, String)> {
    let seed = settings.credential_seed()?;
    let url = settings.database_url_or_default();
    let stored = match existing_database(&url) {
        Some(Err(missing)) if seed.account.is_none() || seed.api_key.is_none() => {
            anyhow::bail!(
                "no vroom database at {}: start `vroom serve` there once, or pass --data-dir (or --config) of the server, or set VROOM_ACCOUNT_SID, VROOM_AUTH_TOKEN, VROOM_API_KEY_SID and VROOM_API_KEY_SECRET",
                missing.display()
            )
        }
        Some(Err(_)) => None,
        _ => {
            let store = vroom_store::open(&url).await?;
            vroom::credentials::stored(store.as_ref()).await?
        }
    };
    let from_env = seed.account.is_some() && seed.api_key.is_some();
    let account = seed.account.or_else(|| {
        stored
            .as_ref()
            .map(|s| (s.account_sid, s.auth_token.clone()))
    });
    let key = seed.api_key.or_else(|| {
        stored
            .as_ref()
            .map(|s| (s.api_key_sid, s.api_key_secret.clone()))
    });
    match (account, key) {
        (Some((account_sid, auth_token)), Some((api_key_sid, api_key_secret))) => {
            let source = if from_env {
                "the environment".to_owned()
            } else {
                shown_url(&url)
            };
            let credentials = vroom_store::StoredCredentials {
                account_sid,
                auth_token,
                api_key_sid,
                api_key_secret,
            };
            Ok((credentials, source))
        }
        _ => anyhow::bail!(
            "no credentials yet in {}: start the server once (`vroom serve`) or set VROOM_ACCOUNT_SID, VROOM_AUTH_TOKEN, VROOM_API_KEY_SID and VROOM_API_KEY_SECRET",
            shown_url(&url)
        ),
    }
}

/// For an SQLite URL: `Ok` when its file exists, else `Err(absolute path)`; `None` for other URLs.
pub(crate) fn existing_database(url: &str) -> Option<Result<(), PathBuf>> {
    let rest = url.strip_prefix("sqlite://")?;
    let path = PathBuf::from(rest.split('?').next().unwrap_or(""));
    let absolute = std::path::absolute(&path).unwrap_or(path);
    Some(if absolute.is_file() {
        Ok(())
    } else {
        Err(absolute)
    })
}

/// A database URL as shown to the operator: SQLite files as absolute paths.
fn shown_url(url: &str) -> String {
    match existing_database(url) {
        Some(Ok(())) => {
            let rest = url.trim_start_matches("sqlite://");
            let path = PathBuf::from(rest.split('?').next().unwrap_or(""));
            std::path::absolute(&path)
                .unwrap_or(path)
                .display()
                .to_string()
        }
        Some(Err(path)) => path.display().to_string(),
        None => url.to_owned(),
    }
}

async fn mint(
    settings: &Settings,
    identity: &str,
    room: Option<&str>,
    ttl: i64,
) -> anyhow::Result<()> {
    if !(1..=token::MAX_TTL_SECS).contains(&ttl) {
        anyhow::bail!(
            "--ttl must be between 1 and {} seconds",
            token::MAX_TTL_SECS
        );
    }
    vroom_domain::names::validate_identity(identity)
        .map_err(|e| anyhow::anyhow!("--identity: {e}"))?;
    if let Some(room) = room {
        vroom_domain::names::validate_room_name(room)
            .map_err(|e| anyhow::anyhow!("--room: {e}"))?;
    }
    let (c, source) = stored_credentials(settings).await?;
    eprintln!("vroom: credentials from {source}");
    let key = TokenKey {
        account_sid: c.account_sid,
        api_key_sid: c.api_key_sid,
        secret: c.api_key_secret,
    };
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    println!("{}", token::mint(&key, identity, room, ttl, now)?);
    Ok(())
}

/// The settings in force as TOML, with secrets replaced.
fn show_settings(settings: &Settings) -> anyhow::Result<String> {
    let mut shown = settings.clone();
    let hide = |v: &mut Option<String>| {
        if v.is_some() {
            *v = Some("<hidden>".to_owned());
        }
    };
    hide(&mut shown.credentials.auth_token);
    hide(&mut shown.credentials.api_key_secret);
    shown.data_dir = Some(settings.data_dir_or_default());
    shown.database_url = Some(settings.database_url_or_default());
    shown.listen = Some(settings.listen_or_default());
    shown.public_url = settings.public_url_or_derived()?;
    Ok(toml::to_string(&shown)?)
}

async fn main_async(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(_) => serve::run(settings).await,
        Command::Token {
            identity,
            room,
            ttl,
        } => mint(&settings, &identity, room.as_deref(), ttl).await,
        Command::Credentials => {
            let (c, source) = stored_credentials(&settings).await?;
            eprintln!("vroom: credentials from {source}");
            let url = server_url(&settings)?;
            println!("vroom at {url}:");
            print_credentials(&c, &url);
            Ok(())
        }
        Command::Config(_) => {
            print!("{}", show_settings(&settings)?);
            Ok(())
        }
        Command::Rooms { remote, command } => {
            remote::rooms::run(&connect(&settings, &remote).await?, command).await
        }
        Command::Participants { remote, command } => {
            remote::participants::run(&connect(&settings, &remote).await?, command).await
        }
        Command::Accounts { command } => tenants_cli::accounts(&settings, command).await,
        Command::Keys { command } => tenants_cli::keys(&settings, command).await,
    }
}

/// The URL a server with these settings is reached at.
fn server_url(settings: &Settings) -> anyhow::Result<String> {
    Ok(settings
        .public_url_or_derived()?
        .unwrap_or_else(|| format!("http://{}", settings.listen_or_default())))
}

/// A client of the server the operator commands act on: `--url` (else the configured URL), with
/// the API key given in the environment, else the credentials in the data folder.
async fn connect(settings: &Settings, args: &remote::RemoteArgs) -> anyhow::Result<remote::Remote> {
    let url = match &args.url {
        Some(url) => url.clone(),
        None => server_url(settings)?,
    };
    let seed = settings.credential_seed()?;
    let (user, password) = match seed.api_key {
        // A key alone is enough for REST: no database needed, so this works from any machine.
        Some((sid, secret)) => (sid.to_string(), secret),
        None => {
            let (c, _) = stored_credentials(settings).await?;
            (c.api_key_sid.to_string(), c.api_key_secret)
        }
    };
    remote::Remote::new(&url, user, password, args.json)
}

fn init_logs(settings: &Settings) -> vroom::logs::LogGuard {
    let level = settings
        .log_level
        .clone()
        .unwrap_or_else(|| vroom::settings::DEFAULT_LOG_LEVEL.to_owned());
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    vroom::logs::init(filter, settings.log_format.unwrap_or(LogFormat::Text))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let from_env;
    let serve_args = match &cli.command {
        Command::Serve(args) | Command::Config(args) => args.as_ref(),
        _ => {
            // The other commands take no server flags, but read the server's environment (its
            // public URL, its data folder) like `serve` would.
            from_env = EnvOnly::try_parse_from(["vroom"])
                .map(|e| e.serve)
                .unwrap_or_default();
            &from_env
        }
    };
    let settings = match settings(&cli.global, serve_args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vroom: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Kept to the end: its drop writes the last gathered lines.
    let _logs = init_logs(&settings);
    // Each worker empties its allocator cache at its first park after a trim asks for it, so the
    // trim can release what the cache pinned (vroom::memory).
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_park(vroom::memory::on_worker_park)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vroom: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_async(cli, settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vroom: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
