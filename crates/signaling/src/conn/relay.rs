//! Serving a signaling connection whose room another node runs: relaying it to that node.
//!
//! The room is known only from the client's first message (`connect` names it; `sync` names a
//! participant, whose record names it). When the hub answers that another node holds the room's
//! lease, and the lease names that node's address, this connection opens a WebSocket to the owner's
//! `/signaling`, says `hello` there with the client's own first message, drops the owner's
//! `welcome` (the client already had this node's) and from then on copies frames both ways,
//! untouched: the owner runs the session (its answers, heartbeats, notices), and its SDP answers
//! carry its own media address, so media goes to the owner directly. twilio-video.js cannot follow
//! an HTTP redirect on a WebSocket, hence a relay rather than a redirect.
//!
//! A relayed connection carries [`RELAYED_HEADER`](crate::RELAYED_HEADER) and is never relayed
//! again. When the owner closes, the client gets the owner's close frame; when the owner is
//! unreachable or vanishes, a close code other than 1000 (the client then resumes with `sync`,
//! which is relayed or served wherever the room then is). When this node stops, the client's
//! connection closes with 1012 and the owner's is closed as a dropped connection, so the
//! participant is `reconnecting` on the owner and the client's resume lands on any other node.

use std::time::Duration;

use axum::extract::ws::{self, WebSocket};
use futures::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self as tung, http::HeaderValue};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use vroom_rooms::HubError;

use super::{Conn, Flow, hub_error};
use crate::Signaling;

/// The connection to the owner's `/signaling`.
pub(crate) type Upstream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long the owner may take to accept the connection and say `welcome`.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// The close code the client gets when the owner vanished without a close frame: not 1000, so
/// twilio-video.js tries to resume.
const CLOSE_OWNER_LOST: u16 = 4002;
/// The close code the client gets when this node stops (RFC 6455 "service restart").
const CLOSE_STOPPING: u16 = 1012;

/// Why the owner could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenError {
    #[error("the owner's address {0:?} is not an http:// URL")]
    Address(String),
    #[error("the owner did not answer within {OPEN_TIMEOUT:?}")]
    Timeout,
    #[error(transparent)]
    WebSocket(#[from] tung::Error),
    #[error("the owner closed the connection before its welcome")]
    Closed,
}

/// The owner's signaling URL from its announced address (`http://host:port[/prefix]`), asking for
/// the region this connection was opened for.
fn signaling_url(address: &str, region: &str) -> Option<String> {
    let rest = address.strip_prefix("http://")?;
    Some(format!(
        "ws://{}/signaling?region={region}",
        rest.trim_end_matches('/')
    ))
}

/// Opens the relay to the owner at `address`: connects, says `hello` with the client's first
/// message, and reads the owner's `welcome`.
pub(crate) async fn open(
    address: &str,
    first: Box<serde_json::value::RawValue>,
    region: &str,
    max_frame_bytes: usize,
) -> Result<Upstream, OpenError> {
    let url =
        signaling_url(address, region).ok_or_else(|| OpenError::Address(address.to_owned()))?;
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert(crate::RELAYED_HEADER, HeaderValue::from_static("1"));
    let config = WebSocketConfig::default()
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes));
    let opening = async {
        let (mut up, _) =
            tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
        let hello = format!(
            r#"{{"type":"hello","version":{},"body":{}}}"#,
            crate::tcmp::TCMP_VERSION,
            first.get()
        );
        up.send(tung::Message::text(hello)).await?;
        // The owner's welcome; the client had this node's already.
        loop {
            match up.next().await {
                Some(Ok(tung::Message::Text(_))) => return Ok(up),
                Some(Ok(tung::Message::Close(_))) | None => return Err(OpenError::Closed),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
            }
        }
    };
    tokio::time::timeout(OPEN_TIMEOUT, opening)
        .await
        .map_err(|_| OpenError::Timeout)?
}

impl Conn {
    /// A join or resume the hub refused: when another node runs the room and announced an
    /// address, the connection is relayed there (unless it is itself a relay); otherwise, or when
    /// the owner cannot be reached, the client is told.
    pub(super) async fn refused(&mut self, e: HubError) -> Flow {
        if let HubError::Elsewhere { node, address } = &e
            && !self.relayed
            && !address.is_empty()
            && let Some(first) = self.first.take()
        {
            let max = self.sig.config.max_frame_bytes;
            match open(address, first, self.region, max).await {
                Ok(up) => {
                    tracing::debug!(session = self.session, %node, %address, "signaling relayed to the room's node");
                    metrics::counter!("vroom_signaling_relayed_total").increment(1);
                    // This node's TURN relays only to this node's media server, which has no
                    // part in the room.
                    if let (Some(turn), Some(user)) = (&self.sig.config.turn, self.turn_user.take())
                    {
                        turn.revoke(&user);
                    }
                    return Flow::Relay(Box::new(up));
                }
                Err(error) => {
                    tracing::warn!(session = self.session, %node, %address, %error, "cannot relay signaling to the room's node");
                }
            }
        }
        let (code, message) = hub_error(&e);
        self.end_with_error(code, message).await
    }
}

fn to_client_close(frame: Option<CloseFrame>) -> ws::Message {
    ws::Message::Close(frame.map(|f| ws::CloseFrame {
        code: f.code.into(),
        reason: f.reason.as_str().into(),
    }))
}

fn to_owner_close(frame: Option<ws::CloseFrame>) -> tung::Message {
    tung::Message::Close(frame.map(|f| CloseFrame {
        code: f.code.into(),
        reason: f.reason.as_str().into(),
    }))
}

/// Copies frames between the client and the owner until either side closes or this node stops.
pub(crate) async fn pipe(mut client: WebSocket, mut up: Upstream, sig: &Signaling) {
    metrics::gauge!("vroom_signaling_relayed_connections").increment(1.0);
    let close = loop {
        tokio::select! {
            frame = client.recv() => match frame {
                Some(Ok(ws::Message::Text(text))) => {
                    if up.send(tung::Message::text(text.as_str())).await.is_err() {
                        break Some(ws::CloseFrame { code: CLOSE_OWNER_LOST, reason: "owner node lost".into() });
                    }
                }
                Some(Ok(ws::Message::Binary(data))) => {
                    if up.send(tung::Message::binary(data)).await.is_err() {
                        break Some(ws::CloseFrame { code: CLOSE_OWNER_LOST, reason: "owner node lost".into() });
                    }
                }
                Some(Ok(ws::Message::Ping(_) | ws::Message::Pong(_))) => {}
                Some(Ok(ws::Message::Close(frame))) => {
                    // The client's closing handshake goes on with the owner; its answer is
                    // passed back below, then both end.
                    let _ = up.send(to_owner_close(frame)).await;
                    let answer = tokio::time::timeout(Duration::from_secs(1), async {
                        while let Some(Ok(m)) = up.next().await {
                            if let tung::Message::Close(f) = m {
                                return f;
                            }
                        }
                        None
                    })
                    .await
                    .ok()
                    .flatten();
                    let _ = client.send(to_client_close(answer)).await;
                    break None;
                }
                // The client's connection broke: the owner sees a dropped connection (the
                // participant becomes `reconnecting` there).
                Some(Err(_)) | None => {
                    let _ = up.close(None).await;
                    break None;
                }
            },
            frame = up.next() => match frame {
                Some(Ok(tung::Message::Text(text))) => {
                    if client.send(ws::Message::Text(text.as_str().into())).await.is_err() {
                        let _ = up.close(None).await;
                        break None;
                    }
                }
                Some(Ok(tung::Message::Binary(data))) => {
                    let _ = client.send(ws::Message::Binary(data)).await;
                }
                Some(Ok(tung::Message::Close(frame))) => {
                    let _ = client.send(to_client_close(frame)).await;
                    break None;
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    break Some(ws::CloseFrame { code: CLOSE_OWNER_LOST, reason: "owner node lost".into() });
                }
            },
            () = sig.shutdown.cancelled() => {
                let _ = up.close(None).await;
                break Some(ws::CloseFrame { code: CLOSE_STOPPING, reason: "server stopping".into() });
            }
        }
    };
    if let Some(frame) = close {
        let _ = client.send(ws::Message::Close(Some(frame))).await;
    }
    // The rest of the closing handshake, for a moment (as a connection this node serves).
    let drain = async {
        while let Some(Ok(m)) = client.recv().await {
            if matches!(m, ws::Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
    metrics::gauge!("vroom_signaling_relayed_connections").decrement(1.0);
}

#[cfg(test)]
mod tests {
    use super::signaling_url;

    #[test]
    fn the_owner_url_comes_from_its_address() {
        assert_eq!(
            signaling_url("http://10.0.0.2:8080", "vroom").as_deref(),
            Some("ws://10.0.0.2:8080/signaling?region=vroom")
        );
        assert_eq!(
            signaling_url("http://node-b.internal:8080/", "de1").as_deref(),
            Some("ws://node-b.internal:8080/signaling?region=de1")
        );
        assert_eq!(signaling_url("https://video.example.com", "vroom"), None);
        assert_eq!(signaling_url("", "vroom"), None);
    }
}
