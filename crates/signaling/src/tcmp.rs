//! TCMP, the framing twilio-video.js puts on its WebSocket: one JSON object per text frame, with
//! `hello`/`welcome` to open, `heartbeat`s both ways, `msg` envelopes around room signaling messages,
//! and `bye` to leave.

use serde::Serialize;
use serde_json::{Value, json};

/// The TCMP version the client speaks.
pub const TCMP_VERSION: u64 = 2;

/// A frame from the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// Opens the conversation; `body` is the first room signaling message (`connect`, `sync` or `ice`).
    Hello {
        /// The first message, if any.
        body: Option<Value>,
    },
    /// A room signaling message.
    Msg(Value),
    /// Keep-alive.
    Heartbeat,
    /// The client is leaving.
    Bye,
}

/// Why a frame could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or not an object.
    #[error("frames must be JSON objects")]
    NotJson,
    /// No or an unknown `type`.
    #[error("unknown frame type '{0}'")]
    UnknownType(String),
    /// A `hello` of another version.
    #[error("unsupported TCMP version (expected 2)")]
    Version,
    /// A `msg` without an object body.
    #[error("a msg frame needs an object body")]
    NoBody,
}

/// Parses one text frame.
///
/// # Errors
/// `FrameError` saying what is wrong.
pub fn parse(text: &str) -> Result<Inbound, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    let Value::Object(mut frame) = value else {
        return Err(FrameError::NotJson);
    };
    let kind = frame
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    match kind.as_str() {
        "hello" => {
            if frame.get("version").and_then(Value::as_u64) != Some(TCMP_VERSION) {
                return Err(FrameError::Version);
            }
            let body = frame.remove("body").filter(Value::is_object);
            Ok(Inbound::Hello { body })
        }
        "msg" => match frame.remove("body") {
            Some(body @ Value::Object(_)) => Ok(Inbound::Msg(body)),
            _ => Err(FrameError::NoBody),
        },
        "heartbeat" => Ok(Inbound::Heartbeat),
        "bye" => Ok(Inbound::Bye),
        _ => Err(FrameError::UnknownType(kind.chars().take(32).collect())),
    }
}

/// `welcome`, the answer to `hello`.
#[must_use]
pub fn welcome(negotiated_timeout_ms: u64) -> String {
    json!({"type": "welcome", "negotiatedTimeout": negotiated_timeout_ms}).to_string()
}

/// `heartbeat`.
#[must_use]
pub fn heartbeat() -> String {
    r#"{"type":"heartbeat"}"#.to_owned()
}

/// `bad`, only valid before the handshake completes (after it, the client treats it as a crash).
#[must_use]
pub fn bad(reason: &str) -> String {
    json!({"type": "bad", "reason": reason}).to_string()
}

/// A `msg` envelope around a room signaling message.
#[must_use]
pub fn msg<T: Serialize>(body: &T) -> String {
    /// Written straight to text: a `connected` in a large room lists hundreds of participants, and
    /// a `Value` tree of them first (an ordered map per object) cost more than the writing.
    #[derive(Serialize)]
    struct Envelope<'a, T> {
        #[serde(rename = "type")]
        kind: &'static str,
        body: &'a T,
    }
    // Serialising our own message types cannot fail: they hold only strings, numbers and lists.
    serde_json::to_string(&Envelope { kind: "msg", body })
        .unwrap_or_else(|_| r#"{"type":"msg","body":null}"#.to_owned())
}

/// A `msg` envelope around a room signaling message already written as JSON text.
#[must_use]
pub fn msg_of_json(body: &str) -> String {
    msg_written(body.len(), |out| out.push_str(body))
}

/// A `msg` envelope around the JSON text `write` appends, in a string made for `body_len` bytes
/// of it (so a large message is written once, not copied into its envelope).
pub fn msg_written(body_len: usize, write: impl FnOnce(&mut String)) -> String {
    const OPEN: &str = r#"{"type":"msg","body":"#;
    let mut text = String::with_capacity(OPEN.len() + body_len + 1);
    text.push_str(OPEN);
    write(&mut text);
    text.push('}');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msg_wraps_the_body_as_written() {
        let body = json!({"type": "update", "participants": [{"sid": "PA1", "revision": 2}]});
        assert_eq!(
            msg(&body),
            r#"{"type":"msg","body":{"type":"update","participants":[{"sid":"PA1","revision":2}]}}"#
        );
    }

    #[test]
    fn frames() {
        assert_eq!(parse(r#"{"type":"heartbeat"}"#), Ok(Inbound::Heartbeat));
        assert_eq!(parse(r#"{"type":"bye"}"#), Ok(Inbound::Bye));
        assert_eq!(parse("not json"), Err(FrameError::NotJson));
        assert_eq!(parse("[1,2]"), Err(FrameError::NotJson));
        assert_eq!(
            parse(r#"{"type":"welcome"}"#),
            Err(FrameError::UnknownType("welcome".into()))
        );
        assert_eq!(
            parse(r#"{"type":"hello","version":1}"#),
            Err(FrameError::Version)
        );
        assert_eq!(
            parse(r#"{"type":"msg","body":"x"}"#),
            Err(FrameError::NoBody)
        );
        let Ok(Inbound::Hello { body: Some(b) }) = parse(
            r#"{"type":"hello","version":2,"id":"x","timeout":5000,"body":{"type":"connect"}}"#,
        ) else {
            panic!("hello should parse")
        };
        assert_eq!(b["type"], "connect");
    }

    #[test]
    fn the_captured_chromium_hello_parses() {
        let text = include_str!("../tests/fixtures/hello-connect.json");
        let Ok(Inbound::Hello { body: Some(body) }) = parse(text) else {
            panic!("fixture should parse")
        };
        assert_eq!(body["type"], "connect");
    }
}
