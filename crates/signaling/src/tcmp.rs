//! TCMP, the framing twilio-video.js puts on its WebSocket: one JSON object per text frame, with
//! `hello`/`welcome` to open, `heartbeat`s both ways, `msg` envelopes around room signaling messages,
//! and `bye` to leave.

use serde::{Deserialize, Serialize};
use serde_json::json;
use serde_json::value::RawValue;

/// The TCMP version the client speaks.
pub const TCMP_VERSION: u64 = 2;

/// A frame from the client, borrowing the room signaling message it carries from the frame's text.
#[derive(Debug, Clone, Copy)]
pub enum Inbound<'a> {
    /// Opens the conversation; `body` is the first room signaling message (`connect`, `sync` or `ice`).
    Hello {
        /// The first message (a JSON object), if any.
        body: Option<&'a RawValue>,
    },
    /// A room signaling message (a JSON object).
    Msg(&'a RawValue),
    /// Keep-alive.
    Heartbeat,
    /// The client is leaving.
    Bye,
}

impl PartialEq for Inbound<'_> {
    fn eq(&self, other: &Self) -> bool {
        fn text<'b>(b: &Option<&'b RawValue>) -> Option<&'b str> {
            b.map(RawValue::get)
        }
        match (self, other) {
            (Self::Hello { body: a }, Self::Hello { body: b }) => text(a) == text(b),
            (Self::Msg(a), Self::Msg(b)) => a.get() == b.get(),
            (Self::Heartbeat, Self::Heartbeat) | (Self::Bye, Self::Bye) => true,
            _ => false,
        }
    }
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

/// The fields of a frame that TCMP reads, each left as its JSON text: the body is handed on as
/// it was written, and no tree of the whole frame is built (a `hello` carries the whole `connect`).
#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", default, borrow)]
    kind: Option<&'a RawValue>,
    #[serde(default, borrow)]
    version: Option<&'a RawValue>,
    #[serde(default, borrow)]
    body: Option<&'a RawValue>,
}

/// The text of a JSON string value, or `""` for anything else (a `type` that is not a string is
/// an unknown type, as a missing one is).
pub(crate) fn string_of(raw: Option<&RawValue>) -> String {
    raw.filter(|r| r.get().starts_with('"'))
        .and_then(|r| serde_json::from_str(r.get()).ok())
        .unwrap_or_default()
}

/// Whether `raw` is a JSON object.
pub(crate) fn is_object(raw: &RawValue) -> bool {
    raw.get().starts_with('{')
}

/// Parses one text frame.
///
/// # Errors
/// `FrameError` saying what is wrong.
pub fn parse(text: &str) -> Result<Inbound<'_>, FrameError> {
    // serde reads a struct from an array as well; a frame must be an object.
    if !text.trim_start().starts_with('{') {
        return Err(FrameError::NotJson);
    }
    let frame: Frame<'_> = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
    let kind = string_of(frame.kind);
    match kind.as_str() {
        "hello" => {
            let version = frame
                .version
                .and_then(|v| serde_json::from_str::<u64>(v.get()).ok());
            if version != Some(TCMP_VERSION) {
                return Err(FrameError::Version);
            }
            Ok(Inbound::Hello {
                body: frame.body.filter(|b| is_object(b)),
            })
        }
        "msg" => match frame.body {
            Some(body) if is_object(body) => Ok(Inbound::Msg(body)),
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
        assert_eq!(b.get(), r#"{"type":"connect"}"#);
        // Not an object, or a body that is not one.
        assert_eq!(parse("  [1,2]"), Err(FrameError::NotJson));
        assert_eq!(
            parse(r#"{"type":"hello","version":2,"body":[1]}"#),
            Ok(Inbound::Hello { body: None })
        );
        assert_eq!(
            parse(r#"{"type":"hello","version":2.0}"#),
            Err(FrameError::Version)
        );
        assert_eq!(
            parse(r#"{"type":7}"#),
            Err(FrameError::UnknownType(String::new()))
        );
        assert_eq!(
            parse(r#"{"version":2}"#),
            Err(FrameError::UnknownType(String::new()))
        );
        assert_eq!(
            parse(r#"{"type":"msg","body":null}"#),
            Err(FrameError::NoBody)
        );
        assert_eq!(parse(r#"{"type":"by\u0065"}"#), Ok(Inbound::Bye));
    }

    #[test]
    fn the_captured_chromium_hello_parses() {
        let text = include_str!("../tests/fixtures/hello-connect.json");
        let Ok(Inbound::Hello { body: Some(body) }) = parse(text) else {
            panic!("fixture should parse")
        };
        assert!(matches!(
            crate::rsp::parse(body.get()),
            Ok(crate::rsp::ClientMessage::Connect(_))
        ));
    }
}
