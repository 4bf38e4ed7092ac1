//! The `vroom` command: `serve`, `token`, `credentials`.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vroom::config::{self, Config, CredentialSeed};
use vroom_domain::time::Timestamp;
use vroom_signaling::token::{self, TokenKey};

#[derive(Parser)]
#[command(
    name = "vroom",
    version,
    about = "A self-hosted video rooms server that speaks Twilio Programmable Video's API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct DatabaseArg {
    /// Database URL: sqlite://path/to/file.db (the default keeps it in ./vroom-data/).
    #[arg(long, env = "VROOM_DATABASE_URL", default_value = vroom_store::open::DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VROOM_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArg,
    /// Base of every absolute URL in responses (default: http://<listen address>).
    #[arg(long, env = "VROOM_PUBLIC_URL")]
    public_url: Option<String>,
    /// Refuse status callbacks to private, loopback and link-local addresses (recommended in
    /// production; off by default so callbacks to local development servers work).
    #[arg(long, env = "VROOM_WEBHOOK_BLOCK_PRIVATE")]
    webhook_block_private: bool,
    /// Status callback URL for ad-hoc rooms (rooms created by a client connecting to an unknown name).
    #[arg(long, env = "VROOM_AD_HOC_STATUS_CALLBACK")]
    ad_hoc_status_callback: Option<String>,
    /// HTTP method of the ad-hoc rooms' status callback: POST or GET.
    #[arg(
        long,
        env = "VROOM_AD_HOC_STATUS_CALLBACK_METHOD",
        default_value = "POST"
    )]
    ad_hoc_status_callback_method: String,
    /// UDP port of the media server (one port carries every peer connection; 0: any free port).
    #[arg(long, env = "VROOM_RTC_UDP_PORT", default_value_t = 0)]
    rtc_udp_port: u16,
    /// IP address the media server binds (default: the --listen address).
    #[arg(long, env = "VROOM_RTC_BIND_IP")]
    rtc_bind_ip: Option<std::net::IpAddr>,
    /// IP address announced to clients in ICE candidates: set it to the public address when vroom
    /// is behind NAT (default: the bound address; for an unspecified one, this host's outward address).
    #[arg(long, env = "VROOM_RTC_ANNOUNCE_IP")]
    rtc_announce_ip: Option<std::net::IpAddr>,
    /// Run without the media server: clients connect and signal, but no audio or video flows.
    #[arg(long, env = "VROOM_NO_MEDIA")]
    no_media: bool,
    /// A local twilio-video.min.js for the /quickstart page (default: twilio-video.min.js in the
    /// data folder if there is one, else the page loads the pinned release from --quickstart-cdn).
    #[arg(long, env = "VROOM_QUICKSTART_SDK")]
    quickstart_sdk: Option<std::path::PathBuf>,
    /// The CDN the /quickstart page loads twilio-video.js from when vroom has no local copy.
    #[arg(long, env = "VROOM_QUICKSTART_CDN", default_value = vroom::quickstart::DEFAULT_CDN)]
    quickstart_cdn: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (REST API at /v1, signaling at /signaling).
    Serve(ServeArgs),
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
        #[command(flatten)]
        database: DatabaseArg,
    },
    /// Show the account and API key this server accepts.
    Credentials {
        #[command(flatten)]
        database: DatabaseArg,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn seed_from_env() -> Result<CredentialSeed, config::ConfigError> {
    Ok(CredentialSeed {
        account: config::pair(
            "VROOM_ACCOUNT_SID",
            env("VROOM_ACCOUNT_SID"),
            "VROOM_AUTH_TOKEN",
            env("VROOM_AUTH_TOKEN"),
        )?,
        api_key: config::pair(
            "VROOM_API_KEY_SID",
            env("VROOM_API_KEY_SID"),
            "VROOM_API_KEY_SECRET",
            env("VROOM_API_KEY_SECRET"),
        )?,
    })
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
        "and twilio-video.js with connect(token, {{ wsServer: \"{}/signaling\", iceServers: [], insights: false }}).",
        base.replacen("http", "ws", 1)
    );
    println!("Mint a token with: vroom token --identity alice --room my-room");
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ad_hoc_status_callback = match args.ad_hoc_status_callback {
        None => None,
        Some(url) => {
            vroom_domain::room::validate_callback_url(&url)
                .map_err(|e| anyhow::anyhow!("--ad-hoc-status-callback: {e}"))?;
            let method =
                vroom_domain::room::CallbackMethod::parse(&args.ad_hoc_status_callback_method)
                    .map_err(|e| anyhow::anyhow!("--ad-hoc-status-callback-method: {e}"))?;
            Some((url, method))
        }
    };
    let config = Config {
        database_url: args.database.database_url.clone(),
        public_url: args
            .public_url
            .as_deref()
            .map(config::public_url)
            .transpose()?,
        credentials: seed_from_env()?,
        webhooks: config::WebhookConfig {
            block_private: args.webhook_block_private,
            ..config::WebhookConfig::default()
        },
        ad_hoc_status_callback,
        media: (!args.no_media).then(|| {
            let bind_ip = args.rtc_bind_ip.unwrap_or_else(|| args.listen.ip());
            let announce_ip = args
                .rtc_announce_ip
                .or_else(|| bind_ip.is_unspecified().then(config::outward_ip).flatten());
            vroom_sfu::MediaConfig {
                bind: SocketAddr::new(bind_ip, args.rtc_udp_port),
                announce_ip,
            }
        }),
        quickstart: {
            if let Some(p) = args.quickstart_sdk.as_ref().filter(|p| !p.is_file()) {
                anyhow::bail!("--quickstart-sdk {} is not a file", p.display())
            }
            config::public_url(&args.quickstart_cdn).map_err(|_| {
                anyhow::anyhow!(
                    "--quickstart-cdn '{}' must be an absolute http:// or https:// URL",
                    args.quickstart_cdn
                )
            })?;
            let data_dir = config::sqlite_folder(&args.database.database_url);
            vroom::quickstart::SdkSource::choose(
                args.quickstart_sdk,
                data_dir.as_deref(),
                &args.quickstart_cdn,
            )
        },
        ..Config::default()
    };
    let listen = args.listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr()?;
    let base = config
        .public_url
        .clone()
        .unwrap_or_else(|| config::derived_public_url(local));
    let app = vroom::App::start(config, vroom::Deps::default()).await?;
    if app.generated_credentials() {
        println!(
            "vroom generated credentials for this server (stored in its database; `vroom credentials` shows them again):"
        );
        print_credentials(app.credentials(), &base);
    } else {
        println!(
            "vroom: account {} / API key {} (`vroom credentials` shows the secrets)",
            app.credentials().account_sid,
            app.credentials().api_key_sid
        );
    }
    println!("vroom is listening on {base} (join a room from a browser at {base}/quickstart)");
    app.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

async fn stored_credentials(database_url: &str) -> anyhow::Result<vroom_store::StoredCredentials> {
    let store = vroom_store::open(database_url).await?;
    let seed = seed_from_env()?;
    let stored = store.credentials().await?;
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
            Ok(vroom_store::StoredCredentials {
                account_sid,
                auth_token,
                api_key_sid,
                api_key_secret,
            })
        }
        _ => anyhow::bail!(
            "no credentials yet: start the server once (`vroom serve`) or set VROOM_ACCOUNT_SID, VROOM_AUTH_TOKEN, VROOM_API_KEY_SID and VROOM_API_KEY_SECRET"
        ),
    }
}

async fn mint(
    identity: &str,
    room: Option<&str>,
    ttl: i64,
    database_url: &str,
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
    let c = stored_credentials(database_url).await?;
    let key = TokenKey {
        account_sid: c.account_sid,
        api_key_sid: c.api_key_sid,
        secret: c.api_key_secret,
    };
    let now = Timestamp::from_millis(chrono::Utc::now().timestamp_millis());
    println!("{}", token::mint(&key, identity, room, ttl, now)?);
    Ok(())
}

async fn main_async(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Token {
            identity,
            room,
            ttl,
            database,
        } => mint(&identity, room.as_deref(), ttl, &database.database_url).await,
        Command::Credentials { database } => {
            let c = stored_credentials(&database.database_url).await?;
            print_credentials(&c, "http://127.0.0.1:8080");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,tower_http=warn,sqlx=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vroom: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(main_async(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vroom: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
