//! The parameters Twilio sends with each room, recording and composition status callback, and the
//! `X-Twilio-Signature` over them.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use vroom_domain::event::{CompositionFacts, EventKind, RecordingFacts, StatusEvent};

/// The callback parameters of `event`, in Twilio's names.
///
/// Every room event carries the room's facts, `StatusCallbackEvent`, `Timestamp` (UTC, with
/// milliseconds, as Twilio's callbacks do) and `SequenceNumber`; participant and track events add
/// the participant; `participant-disconnected` adds `ParticipantDuration`, `room-ended` adds
/// `RoomDuration`, track events add `TrackSid`, `TrackKind` and `TrackName`. Recording and
/// composition events have parameters of their own ([`recording`], [`composition`]).
#[must_use]
pub fn render(event: &StatusEvent) -> Vec<(&'static str, String)> {
    if let Some(c) = &event.composition {
        return composition(event, c);
    }
    let mut p = vec![
        ("AccountSid", event.account_sid.to_string()),
        ("RoomSid", event.room_sid.to_string()),
        ("RoomName", event.room_name.clone()),
        ("RoomStatus", event.room_status.as_str().to_owned()),
        ("RoomType", event.room_type.as_str().to_owned()),
        ("StatusCallbackEvent", event.kind.as_str().to_owned()),
        ("Timestamp", timestamp(event)),
        ("SequenceNumber", event.sequence_number.to_string()),
    ];
    if let Some(part) = &event.participant {
        p.push(("ParticipantSid", part.sid.to_string()));
        p.push(("ParticipantIdentity", part.identity.clone()));
        p.push(("ParticipantStatus", part.status.as_str().to_owned()));
        if event.kind == EventKind::ParticipantDisconnected {
            p.push((
                "ParticipantDuration",
                part.duration.unwrap_or(0).to_string(),
            ));
        }
    }
    if event.kind == EventKind::RoomEnded {
        p.push(("RoomDuration", event.room_duration.unwrap_or(0).to_string()));
    }
    if let Some(track) = &event.track {
        p.push(("TrackSid", track.sid.to_string()));
        p.push(("TrackKind", track.kind.as_str().to_owned()));
        p.push(("TrackName", track.name.clone()));
    }
    if let Some(r) = &event.recording {
        recording(event.kind, r, &mut p);
    }
    p
}

fn timestamp(event: &StatusEvent) -> String {
    event
        .timestamp
        .to_chrono()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// A recording event's parameters, after the room's (Twilio's "Recordings Status Callbacks", sent
/// to the room's callback): `RecordingSid`, `RecordingUri`, `ParticipantSid`,
/// `ParticipantIdentity`, `SourceSid`, `TrackName`, `Type`, `Container`, `Codec`,
/// `OffsetFromTwilioVideoEpoch`; `recording-completed` adds `MediaUri`, `Duration`, `Size`;
/// `recording-failed` adds `FailedOperation`.
fn recording(kind: EventKind, r: &RecordingFacts, p: &mut Vec<(&'static str, String)>) {
    let uri = format!("/v1/Recordings/{}", r.sid);
    p.extend([
        ("RecordingSid", r.sid.to_string()),
        ("RecordingUri", uri.clone()),
        ("ParticipantSid", r.participant_sid.to_string()),
        ("ParticipantIdentity", r.participant_identity.clone()),
        ("SourceSid", r.track_sid.to_string()),
        ("TrackName", r.track_name.clone()),
        ("Type", r.kind.as_str().to_owned()),
        ("Container", r.container().to_owned()),
        ("Codec", r.codec.as_str().to_owned()),
        ("OffsetFromTwilioVideoEpoch", r.offset.to_string()),
    ]);
    match kind {
        EventKind::RecordingCompleted => p.extend([
            ("MediaUri", format!("{uri}/Media")),
            ("Duration", r.duration.unwrap_or(0).to_string()),
            ("Size", r.size.to_string()),
        ]),
        EventKind::RecordingFailed => p.push((
            "FailedOperation",
            r.failure.clone().unwrap_or_else(|| "media".to_owned()),
        )),
        _ => {}
    }
}

/// A composition event's parameters (Twilio's "Compositions Status Callbacks", sent to the
/// composition's own callback): `AccountSid`, `RoomSid`, `CompositionSid`, `CompositionUri`,
/// `StatusCallbackEvent`, `Timestamp`, and `CompositionHookSid`/`CompositionHookUri` for a hook's
/// composition; `composition-progress` adds `PercentageDone` and `SecondsRemaining`;
/// `composition-available` adds `MediaUri`, `Duration` and `Size`; `composition-failed` adds
/// `ErrorMessage`.
fn composition(event: &StatusEvent, c: &CompositionFacts) -> Vec<(&'static str, String)> {
    let uri = format!("/v1/Compositions/{}", c.sid);
    let mut p = vec![
        ("AccountSid", event.account_sid.to_string()),
        ("RoomSid", event.room_sid.to_string()),
        ("CompositionSid", c.sid.to_string()),
        ("CompositionUri", uri.clone()),
        ("StatusCallbackEvent", event.kind.as_str().to_owned()),
        ("Timestamp", timestamp(event)),
    ];
    if let Some(hook) = c.hook {
        p.push(("CompositionHookSid", hook.to_string()));
        p.push(("CompositionHookUri", format!("/v1/CompositionHooks/{hook}")));
    }
    match event.kind {
        EventKind::CompositionProgress => {
            p.push(("PercentageDone", c.percentage_done.to_string()));
            if let Some(left) = c.seconds_remaining {
                p.push(("SecondsRemaining", left.to_string()));
            }
        }
        EventKind::CompositionAvailable => p.extend([
            ("MediaUri", format!("{uri}/Media")),
            ("Duration", c.duration.to_string()),
            ("Size", c.size.to_string()),
        ]),
        EventKind::CompositionFailed => p.push((
            "ErrorMessage",
            c.error.clone().unwrap_or_else(|| "failed".to_owned()),
        )),
        _ => {}
    }
    p
}

/// `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed with the account's auth token, over the full URL
/// followed by every POST parameter as name then value, sorted by name (byte order). For GET, `params`
/// is empty: the parameters are already in the URL.
#[must_use]
pub fn signature(auth_token: &str, url: &str, params: &[(&str, String)]) -> String {
    let mut sorted: Vec<&(&str, String)> = params.iter().collect();
    sorted.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then_with(|| a.1.as_bytes().cmp(b.1.as_bytes()))
    });
    // HMAC accepts keys of any length.
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `url` with `params` appended to its query string (for GET callbacks).
#[must_use]
pub fn with_query(url: &str, params: &[(&str, String)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", q.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_documented_signature_vector() {
        let params = [
            ("CallSid", "CA1234567890ABCDE".to_owned()),
            ("Caller", "+14158675310".to_owned()),
            ("Digits", "1234".to_owned()),
            ("From", "+14158675310".to_owned()),
            ("To", "+18005551212".to_owned()),
        ];
        assert_eq!(
            signature(
                "12345",
                "https://example.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "L/OH5YylLD5NRKLltdqwSvS0BnU="
        );
    }

    #[test]
    fn get_urls_carry_the_parameters() {
        let p = [("A", "1 2".to_owned()), ("B", "x&y".to_owned())];
        assert_eq!(with_query("http://h/cb", &p), "http://h/cb?A=1+2&B=x%26y");
        assert_eq!(
            with_query("http://h/cb?k=v", &p),
            "http://h/cb?k=v&A=1+2&B=x%26y"
        );
    }
}
