//! The REST side: one HTTP/1.1 keep-alive connection per worker (as `wrk -c` opens them), Basic
//! credentials, form bodies, and the access tokens signaling clients present.

use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// Where the load goes and the credentials it uses.
#[derive(Debug, Clone)]
pub struct Target {
    /// `http://host:port`, no trailing slash.
    pub base: String,
    /// Account SID (REST user name, token `sub`).
    pub account_sid: String,
    /// Auth token (REST password).
    pub auth_token: String,
    /// API key SID (token issuer).
    pub api_key_sid: String,
    /// API key secret (token signing key).
    pub api_key_secret: String,
}

impl Target {
    /// `ws://host:port/signaling`.
    #[must_use]
    pub fn signaling_url(&self) -> String {
        let ws = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", self.base.trim_start_matches("http://"))
        };
        format!("{ws}/signaling")
    }

    /// `host:port` of the base URL.
    fn authority(&self) -> anyhow::Result<String> {
        let rest = self
            .base
            .strip_prefix("http://")
            .context("the REST load speaks plain http:// only")?;
        Ok(rest.split('/').next().unwrap_or(rest).to_owned())
    }

    /// The `Authorization` header value.
    #[must_use]
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.account_sid, self.auth_token);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    /// An access token for `identity` in `room`, valid for an hour.
    ///
    /// # Errors
    /// When signing fails (it does not with HS256).
    pub fn token(&self, identity: &str, room: &str) -> anyhow::Result<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let claims = json!({
            "jti": format!("{}-{now}-{identity}", self.api_key_sid),
            "iss": self.api_key_sid, "sub": self.account_sid, "nbf": now, "exp": now + 3600,
            "grants": {"identity": identity, "video": {"room": room}},
        });
        let header = jsonwebtoken::Header {
            cty: Some("twilio-fpa;v=1".into()),
            typ: Some("JWT".into()),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
        };
        Ok(jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(self.api_key_secret.as_bytes()),
        )?)
    }
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    send: SendRequest<Full<Bytes>>,
    host: String,
    auth: String,
}

/// An answer: status and body.
pub struct Answer {
    /// HTTP status.
    pub status: StatusCode,
    /// Body bytes.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    ///
    /// # Errors
    /// When it is not JSON.
    pub fn json(&self) -> anyhow::Result<Value> {
        serde_json::from_slice(&self.body).context("the answer is not JSON")
    }
}

impl Conn {
    /// Opens a connection to the target.
    ///
    /// # Errors
    /// When it cannot connect.
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        let host = target.authority()?;
        let tcp = tokio::net::TcpStream::connect(&host)
            .await
            .with_context(|| format!("cannot connect to {host}"))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Self {
            send,
            host,
            auth: target.basic(),
        })
    }

    /// Sends one request (`form` as the body of a POST) and reads the whole answer.
    ///
    /// # Errors
    /// When the connection fails.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&str>,
    ) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host)
            .header("authorization", &self.auth)
            .header("user-agent", "vroom-load");
        let body = match form {
            Some(f) => {
                req = req.header("content-type", "application/x-www-form-urlencoded");
                Bytes::copy_from_slice(f.as_bytes())
            }
            None => Bytes::new(),
        };
        self.send.ready().await?;
        let res = self.send.send_request(req.body(Full::new(body))?).await?;
        let status = res.status();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Answer { status, body })
    }

    /// `request`, expecting `want`, returning the JSON body.
    ///
    /// # Errors
    /// On another status (with the body) or a broken connection.
    pub async fn expect(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&str>,
        want: StatusCode,
    ) -> anyhow::Result<Value> {
        let a = self.request(method.clone(), path, form).await?;
        if a.status != want {
            let body = String::from_utf8_lossy(&a.body);
            let cut = body.char_indices().nth(160).map_or(body.len(), |(i, _)| i);
            bail!("{method} {path}: {} {}", a.status, &body[..cut]);
        }
        a.json()
    }
}

/// A form body from pairs.
#[must_use]
pub fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Retries `open` for up to `wait` (a server that is still starting).
///
/// # Errors
/// When it never answers.
pub async fn wait_until_up(target: &Target, wait: Duration) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + wait;
    loop {
        match Conn::open(target).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= until => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}
