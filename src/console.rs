//! `/console`: the operator's web console, what Twilio's Console shows of Video rooms. Rooms in
//! progress and recent ones, each room's participants with their status, tracks and durations,
//! updating every second; kick a participant, complete a room, mint a join token.
//!
//! The page itself is static and holds no data: the operator logs in with an account's SID and auth
//! token (or one of its API keys' SID and secret), and everything the page shows or does goes through the
//! REST API (`/v1`) with those credentials, like any helper library. The one thing REST cannot do is
//! mint an access token (that needs an API key's secret, which an operator logged in with the
//! account's token does not hold): `POST /console/token` does it, behind the same credentials,
//! signed with the key the operator logged in with, else the account's oldest active key.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use vroom_api::{Accounts, ApiError};
use vroom_rooms::clock::Clock;
use vroom_signaling::token::{self, TokenKey};

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/console.js");
const STYLE: &str = include_str!("console/console.css");

/// Lifetime of a token minted without `Ttl`, seconds (as `vroom token`).
const DEFAULT_TTL_SECS: i64 = 3600;

#[derive(Clone)]
struct ConsoleState {
    accounts: Accounts,
    clock: Arc<dyn Clock>,
}

/// The console's routes: the page, its script and style, and `POST /console/token`.
pub fn router(accounts: Accounts, clock: Arc<dyn Clock>) -> Router {
    let file = |body: &'static str, content_type: &'static str| {
        get(move || async move {
            (
                [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
        })
    };
    Router::new()
        .route("/console", file(PAGE, "text/html; charset=utf-8"))
        .route(
            "/console/console.js",
            file(SCRIPT, "text/javascript; charset=utf-8"),
        )
        .route(
            "/console/console.css",
            file(STYLE, "text/css; charset=utf-8"),
        )
        .route("/console/token", post(mint))
        .with_state(ConsoleState { accounts, clock })
}

/// `POST /console/token` with `Identity`, optional `Room` and `Ttl` (seconds, 1–86400): an access
/// token for a participant, as `vroom token` prints it.
async fn mint(State(st): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> Response {
    match mint_token(&st, &headers, &body).await {
        Ok(answer) => Json(answer).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn mint_token(
    st: &ConsoleState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, ApiError> {
    let caller = st
        .accounts
        .check_basic(headers)
        .await?
        .ok_or(ApiError::Unauthorized)?;
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let identity = form
        .get("Identity")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::param("Identity", "is required"))?;
    vroom_domain::names::validate_identity(identity)
        .map_err(|e| ApiError::param("Identity", e.to_string()))?;
    let room = form.get("Room").filter(|r| !r.is_empty());
    if let Some(room) = room {
        vroom_domain::names::validate_room_name(room)
            .map_err(|e| ApiError::param("Room", e.to_string()))?;
    }
    let ttl = match form.get("Ttl") {
        None => DEFAULT_TTL_SECS,
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|t| (1..=token::MAX_TTL_SECS).contains(t))
            .ok_or_else(|| {
                ApiError::param(
                    "Ttl",
                    format!("must be 1 to {} seconds", token::MAX_TTL_SECS),
                )
            })?,
    };
    let key = st.accounts.signing_key(&caller).await?.ok_or_else(|| {
        ApiError::param(
            "Identity",
            "cannot be given a token: the account has no active API key (vroom keys create)",
        )
    })?;
    let key = TokenKey {
        account_sid: key.account_sid,
        api_key_sid: key.sid,
        secret: key.secret,
    };
    let jwt = token::mint(
        &key,
        identity,
        room.map(String::as_str),
        ttl,
        st.clock.now(),
    )
    .map_err(|e| ApiError::Internal(format!("cannot sign a token: {e}")))?;
    Ok(serde_json::json!({
        "token": jwt,
        "identity": identity,
        "room": room,
        "ttl": ttl,
    }))
}
