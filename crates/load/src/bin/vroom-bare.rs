//! `vroom-bare`: the baseline vroom's REST figures are compared with. An axum server (same axum,
//! hyper and Tokio as vroom, TCP_NODELAY like vroom) with vroom's REST routes that checks the Basic
//! credentials and answers from memory. The first request for a method and URI is passed to the
//! real server given with `--upstream` and its answer kept, so every later answer is byte for byte
//! the body vroom gave; what is left is the cost of HTTP, routing and auth, which no server can avoid.
//!
//! At `/signaling` it runs joins and leaves the way vroom answers them, rooms in memory only
//! ([`vroom_load::bare`]): the floor vroom's CPU per join + leave is compared with
//! (`vroom-load --baseline … --baseline-pid … join`).
//!
//! ```text
//! vroom-bare --listen 127.0.0.1:9090 --upstream http://127.0.0.1:8080
//! ```

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use clap::Parser;
use vroom_load::Target;
use vroom_load::http::Conn;

#[derive(Parser, Debug)]
#[command(
    about = "Bare axum baseline: vroom's REST routes answering vroom's own bodies from memory"
)]
struct Cli {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: String,
    /// The vroom whose answers are replayed.
    #[arg(long, env = "VROOM_URL")]
    upstream: String,
    /// Account SID (the accepted Basic user).
    #[arg(long, env = "VROOM_ACCOUNT_SID")]
    account_sid: String,
    /// Auth token (the accepted Basic password).
    #[arg(long, env = "VROOM_AUTH_TOKEN", hide_env_values = true)]
    auth_token: String,
    /// API key secret the signaling's access tokens are checked with (without one, their grants
    /// are read unchecked).
    #[arg(long, env = "VROOM_API_KEY_SECRET", hide_env_values = true)]
    api_key_secret: Option<String>,
}

struct Kept {
    status: StatusCode,
    body: Bytes,
}

struct Bare {
    upstream: Target,
    basic: HeaderValue,
    kept: RwLock<HashMap<(Method, String), Arc<Kept>>>,
}

async fn answer(
    State(bare): State<Arc<Bare>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if headers.get(header::AUTHORIZATION) != Some(&bare.basic) {
        return (StatusCode::UNAUTHORIZED, "").into_response();
    }
    let key = (method, uri.to_string());
    let found = bare
        .kept
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
        .cloned();
    let kept = match found {
        Some(k) => k,
        None => {
            let form = (!body.is_empty()).then(|| String::from_utf8_lossy(&body).into_owned());
            let fetched = async {
                let mut c = Conn::open(&bare.upstream).await?;
                c.request(key.0.clone(), &key.1, form.as_deref()).await
            }
            .await;
            let a = match fetched {
                Ok(a) => a,
                Err(e) => return (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
            };
            let k = Arc::new(Kept {
                status: a.status,
                body: a.body,
            });
            bare.kept
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(key, Arc::clone(&k));
            k
        }
    };
    (
        kept.status,
        [(header::CONTENT_TYPE, "application/json")],
        kept.body.clone(),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let upstream = Target {
        base: cli.upstream.trim_end_matches('/').to_owned(),
        account_sid: cli.account_sid,
        auth_token: cli.auth_token,
        api_key_sid: String::new(),
        api_key_secret: String::new(),
    };
    let bare = Arc::new(Bare {
        basic: HeaderValue::from_str(&upstream.basic())?,
        upstream,
        kept: RwLock::default(),
    });
    let app = Router::new()
        .route("/v1/Rooms", get(answer).post(answer))
        .route("/v1/Rooms/{room}", get(answer).post(answer))
        .route("/v1/Rooms/{room}/Participants", get(answer))
        .route(
            "/v1/Rooms/{room}/Participants/{participant}",
            get(answer).post(answer),
        )
        .with_state(bare)
        .merge(vroom_load::bare::Floor::new(cli.api_key_secret.as_deref()).router());
    let listener = tokio::net::TcpListener::bind(&cli.listen).await?;
    eprintln!("vroom-bare listening on http://{}", listener.local_addr()?);
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await?;
    Ok(())
}
