//! The Janus driver: starts Janus (Debian's `janus`, VideoRoom plugin, plain HTTP transport on
//! loopback, a fixed RTP port range, logging off) and joins the same str0m peers through the
//! VideoRoom API. Janus gives each publisher one peer connection to publish and one to subscribe
//! (one subscriber handle receives every feed it asked for), so a publishing participant is two
//! peers here, where vroom bundles both directions into one.

use std::net::IpAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use str0m::Rtc;
use str0m::change::{SdpAnswer, SdpOffer};
use tokio::process::Child;
use tokio::time::Interval;

use crate::peer::{Peer, Received, Side};

/// The VideoRoom room every peer joins.
const ROOM: u64 = 1234;

/// Writes a configuration for Janus into `dir` and starts `binary` with it; returns the process and
/// the base URL of its HTTP API.
pub async fn start(
    binary: &str,
    dir: &Path,
    rtp_ports: (u16, u16),
) -> anyhow::Result<(Child, String)> {
    let port = crate::free_port()?;
    let lib = janus_lib_dir(binary);
    let disabled_plugins = [
        "audiobridge",
        "duktape",
        "echotest",
        "lua",
        "nosip",
        "recordplay",
        "sip",
        "streaming",
        "textroom",
        "videocall",
        "voicemail",
    ]
    .map(|p| format!("libjanus_{p}.so"))
    .join(",");
    let disabled_transports = ["mqtt", "nanomsg", "pfunix", "rabbitmq", "websockets"]
        .map(|p| format!("libjanus_{p}.so"))
        .join(",");
    // Level 0: no logging, as vroom runs with RUST_LOG=warn and logs nothing on this path.
    // JANUS_DEBUG_LEVEL (1–7) turns Janus's log on, to its stdout, for diagnosing the driver.
    let debug = std::env::var("JANUS_DEBUG_LEVEL").ok();
    let core = format!(
        r#"general: {{
    configs_folder = "{dir}"
    plugins_folder = "{lib}/plugins"
    transports_folder = "{lib}/transports"
    events_folder = "{lib}/events"
    loggers_folder = "{lib}/loggers"
    debug_level = {level}
}}
media: {{
    rtp_port_range = "{lo}-{hi}"
}}
nat: {{
    ice_enforce_list = "lo"
    ignore_mdns = true
}}
plugins: {{
    disable = "{disabled_plugins}"
}}
transports: {{
    disable = "{disabled_transports}"
}}
events: {{
    broadcast = false
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
"#,
        dir = dir.display(),
        level = debug.as_deref().unwrap_or("0"),
        lo = rtp_ports.0,
        hi = rtp_ports.1,
    );
    let http = format!(
        "general: {{\n    json = \"plain\"\n    base_path = \"/janus\"\n    http = true\n    port = {port}\n    ip = \"127.0.0.1\"\n    https = false\n}}\nadmin: {{\n    admin_http = false\n}}\n"
    );
    std::fs::write(dir.join("janus.jcfg"), core)?;
    std::fs::write(dir.join("janus.transport.http.jcfg"), http)?;
    std::fs::write(dir.join("janus.plugin.videoroom.jcfg"), "general: {\n}\n")?;
    let server = tokio::process::Command::new(binary)
        .arg("-C")
        .arg(dir.join("janus.jcfg"))
        .arg("-F")
        .arg(dir)
        .stdout(if debug.is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {binary} (Debian: apt-get install janus)"))?;
    crate::wait_for_port(port).await?;
    Ok((server, format!("http://127.0.0.1:{port}/janus")))
}

/// The address the peers use with Janus: the host's own outward IPv4 address, because Janus
/// (libnice) never gathers loopback candidates. Traffic to it stays on the host, as with vroom.
pub fn host_ip() -> anyhow::Result<IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0")?;
    // Connecting a UDP socket sends nothing; it only picks the route and so the source address.
    probe.connect("192.0.2.1:9")?;
    let ip = probe.local_addr()?.ip();
    if ip.is_unspecified() || ip.is_loopback() {
        bail!("this host has no non-loopback IPv4 address for Janus's ICE candidates");
    }
    Ok(ip)
}

/// Where Debian keeps Janus's plugins, next to the binary's prefix.
fn janus_lib_dir(binary: &str) -> String {
    let prefix = Path::new(binary)
        .parent()
        .and_then(Path::parent)
        .unwrap_or(Path::new("/usr"));
    let debian = prefix.join("lib/x86_64-linux-gnu/janus");
    if debian.is_dir() {
        return debian.display().to_string();
    }
    prefix.join("lib/janus").display().to_string()
}

/// A Janus session's event queue (long-polled).
#[derive(Clone)]
pub struct Events {
    http: reqwest::Client,
    session: String,
}

/// One Janus session with one VideoRoom handle: what a peer talks to.
pub struct Handle {
    http: reqwest::Client,
    session: String,
    handle: String,
    /// Janus ends a session idle for 60 s.
    keepalive: Interval,
}

static TRANSACTIONS: AtomicU64 = AtomicU64::new(0);

fn transaction() -> String {
    format!("t{}", TRANSACTIONS.fetch_add(1, Ordering::Relaxed))
}

/// Posts one Janus request and returns its reply, failing on Janus's errors.
async fn post(http: &reqwest::Client, url: &str, mut body: Value) -> anyhow::Result<Value> {
    body["transaction"] = json!(transaction());
    let reply: Value = http.post(url).json(&body).send().await?.json().await?;
    if reply["janus"] == "error" {
        bail!("Janus refused {body}: {}", reply["error"]);
    }
    if let Some(error) = reply["plugindata"]["data"].get("error") {
        bail!("VideoRoom refused {body}: {error}");
    }
    Ok(reply)
}

impl Handle {
    /// A new session with a VideoRoom handle.
    pub async fn open(base: &str) -> anyhow::Result<Self> {
        // A fresh connection per request: Janus's HTTP server closes idle kept-alive connections,
        // and a request racing that close fails.
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let created = post(&http, base, json!({"janus": "create"})).await?;
        let session = format!("{base}/{}", created["data"]["id"]);
        let attached = post(
            &http,
            &session,
            json!({"janus": "attach", "plugin": "janus.plugin.videoroom"}),
        )
        .await?;
        let handle = format!("{session}/{}", attached["data"]["id"]);
        let keepalive = tokio::time::interval(Duration::from_secs(20));
        Ok(Self {
            http,
            session,
            handle,
            keepalive,
        })
    }

    /// Sends a VideoRoom request (with a JSEP, if given); the reply is Janus's synchronous answer
    /// (an `ack` for asynchronous requests, whose result comes as an event).
    async fn message(&self, body: Value, jsep: Option<Value>) -> anyhow::Result<Value> {
        let mut request = json!({"janus": "message", "body": body});
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        post(&self.http, &self.handle, request).await
    }

    /// The session's events.
    pub fn events(&self) -> Events {
        Events {
            http: self.http.clone(),
            session: self.session.clone(),
        }
    }

    async fn event(&self, wanted: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        self.events().next(wanted).await
    }

    /// Creates the bench's room for `publishers` publishers (Opus and VP8 only).
    pub async fn create_room(&self, publishers: usize) -> anyhow::Result<()> {
        self.message(
            json!({"request": "create", "room": ROOM, "publishers": publishers, "audiocodec": "opus",
                   "videocodec": "vp8", "bitrate": 0, "notify_joining": false}),
            None,
        )
        .await?;
        Ok(())
    }
}

impl Events {
    /// Long-polls the session until an event satisfies `wanted` (30 s at most).
    pub async fn next(&self, wanted: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            let event: Value = self
                .http
                .get(format!("{}?maxev=1", self.session))
                .send()
                .await?
                .json()
                .await?;
            if let Some(error) = event["plugindata"]["data"].get("error") {
                bail!("VideoRoom error event: {error}");
            }
            if wanted(&event) {
                return Ok(event);
            }
        }
        bail!("Janus sent no awaited event within 30 s")
    }
}

fn videoroom(event: &Value) -> &Value {
    &event["plugindata"]["data"]["videoroom"]
}

/// A publisher's peer connection: joins the room as `identity` and publishes audio and video.
/// Returns the peer, its handle and its feed id.
pub async fn publish(
    base: &str,
    ip: IpAddr,
    identity: &str,
    received: Arc<Received>,
) -> anyhow::Result<(Peer, Handle, Value)> {
    let handle = Handle::open(base).await?;
    handle
        .message(
            json!({"request": "join", "ptype": "publisher", "room": ROOM, "display": identity}),
            None,
        )
        .await?;
    let joined = handle
        .event(|e| videoroom(e) == "joined")
        .await
        .context("joining as a publisher")?;
    let feed = joined["plugindata"]["data"]["id"].clone();
    let mut peer = Peer::bind(ip, received).await?;
    let (offer, pending) = peer.offer(identity, true, false)?;
    handle
        .message(
            json!({"request": "publish"}),
            Some(json!({"type": "offer", "sdp": offer.to_sdp_string(), "trickle": false})),
        )
        .await?;
    let answered = handle
        .event(|e| e["jsep"]["type"] == "answer")
        .await
        .context("publishing")?;
    let answer = answered["jsep"]["sdp"].as_str().context("an answer")?;
    peer.rtc
        .sdp_api()
        .accept_answer(pending, SdpAnswer::from_sdp_string(answer)?)?;
    Ok((peer, handle, feed))
}

/// A subscriber's peer connection receiving every stream of `feeds`.
pub async fn subscribe(
    base: &str,
    ip: IpAddr,
    feeds: &[Value],
    received: Arc<Received>,
) -> anyhow::Result<(Peer, Handle)> {
    let handle = Handle::open(base).await?;
    let streams: Vec<Value> = feeds.iter().map(|f| json!({"feed": f})).collect();
    handle
        .message(
            json!({"request": "join", "ptype": "subscriber", "room": ROOM, "streams": streams}),
            None,
        )
        .await?;
    let attached = handle
        .event(|e| e["jsep"]["type"] == "offer")
        .await
        .context("joining as a subscriber")?;
    let offer = attached["jsep"]["sdp"].as_str().context("an offer")?;
    let mut peer = Peer::bind(ip, received).await?;
    let answer = peer
        .rtc
        .sdp_api()
        .accept_offer(SdpOffer::from_sdp_string(offer)?)?;
    handle
        .message(
            json!({"request": "start"}),
            Some(json!({"type": "answer", "sdp": answer.to_sdp_string(), "trickle": false})),
        )
        .await?;
    handle
        .event(|e| videoroom(e) == "event" && e["plugindata"]["data"]["started"] == "ok")
        .await
        .context("starting a subscription")?;
    Ok((peer, handle))
}

impl Side for Handle {
    type Event = ();

    async fn next(&mut self) -> anyhow::Result<()> {
        self.keepalive.tick().await;
        Ok(())
    }

    async fn handle(&mut self, (): (), _rtc: &mut Rtc) -> anyhow::Result<()> {
        post(&self.http, &self.session, json!({"janus": "keepalive"})).await?;
        Ok(())
    }
}
