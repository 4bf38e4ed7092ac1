//! `/v1/Rooms` and `/v1/Rooms/{RoomNameOrSid}` (and the room's `RecordingRules`).

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use vroom_domain::room::{CallbackMethod, CreateRoom, RoomStatus, RoomType, VideoCodec};
use vroom_store::RoomFilter;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params};
use crate::paging::{Filters, listing, paging};
use crate::wire::{RoomResource, date, rules_json};
use crate::{ApiState, Segment, list_base, query_of, resolve_room};

/// A room resource comes to ~1.1 KB (its links, its status callback): the buffer it is written
/// into starts large enough not to be grown and copied on the way.
const ROOM_JSON: usize = 2048;

/// Reads the `CreateRoomRequest` parameters. Type errors get the parameter's own Twilio code where
/// it has one, and always name the parameter.
pub(crate) fn create_request(p: &Params) -> ApiResult<CreateRoom> {
    use vroom_domain::Error as E;
    let video_codecs = if p.get("VideoCodecs").is_some() {
        let mut codecs = Vec::new();
        for v in p
            .all("VideoCodecs")
            .flat_map(|v| v.split(','))
            .map(str::trim)
        {
            // An empty value (`VideoCodecs=`) is refused like any other that is not a codec:
            // taking it as "no codecs" would leave a room that cannot carry video.
            codecs.push(VideoCodec::parse(v).ok_or_else(|| {
                ApiError::param(
                    "VideoCodecs",
                    format!("'{}' is not VP8 or H264", crate::form::shorten(v)),
                )
            })?);
        }
        Some(codecs)
    } else {
        None
    };
    let transcriptions_configuration = match p.get("TranscriptionsConfiguration") {
        None => None,
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(v @ Value::Object(_)) => Some(v.to_string()),
            _ => {
                return Err(ApiError::param(
                    "TranscriptionsConfiguration",
                    "must be a JSON object",
                ));
            }
        },
    };
    Ok(CreateRoom {
        room_type: p.get("Type").map(RoomType::parse).transpose()?,
        // Sent empty, it is as if absent (the room is named by its SID), as Twilio does.
        unique_name: p.string("UniqueName").filter(|n| !n.is_empty()),
        status_callback: p.string("StatusCallback"),
        status_callback_method: p
            .get("StatusCallbackMethod")
            .map(CallbackMethod::parse)
            .transpose()?,
        max_participants: p.integer("MaxParticipants", |_| {
            ApiError::Rule(E::MaxParticipantsOutOfRange { max: 50 })
        })?,
        record_participants_on_connect: p.boolean("RecordParticipantsOnConnect")?,
        transcribe_participants_on_connect: p.boolean("TranscribeParticipantsOnConnect")?,
        transcriptions_configuration,
        video_codecs,
        media_region: p.string("MediaRegion"),
        recording_rules: p
            .get("RecordingRules")
            .map(|t| crate::rules::parse(t, crate::rules::Purpose::Recording))
            .transpose()?,
        audio_only: p.boolean("AudioOnly")?,
        max_participant_duration: p.integer("MaxParticipantDuration", |_| {
            ApiError::Rule(E::MaxParticipantDurationOutOfRange)
        })?,
        empty_room_timeout: p.integer("EmptyRoomTimeout", |_| {
            ApiError::Rule(E::TimeoutOutOfRange {
                param: "EmptyRoomTimeout",
            })
        })?,
        unused_room_timeout: p.integer("UnusedRoomTimeout", |_| {
            ApiError::Rule(E::TimeoutOutOfRange {
                param: "UnusedRoomTimeout",
            })
        })?,
        large_room: p.boolean("LargeRoom")?,
        enable_turn: p.boolean("EnableTurn")?,
    })
}

/// `POST /v1/Rooms`
pub(crate) async fn create(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    Form(p): Form,
) -> ApiResult<(StatusCode, Response)> {
    let request = create_request(&p)?;
    if let (Some(check), Some(url)) = (&st.callback_check, &request.status_callback) {
        // Refused now, with the reason, rather than accepted and given up at the first event.
        check(url.clone())
            .await
            .map_err(ApiError::CallbackRefused)?;
    }
    let room = st.hub.create_room(caller.account_sid, request).await?;
    Ok((
        StatusCode::CREATED,
        crate::json(&RoomResource::new(&room, &st.public_url), ROOM_JSON),
    ))
}

/// `GET /v1/Rooms`
pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let q = query_of(&uri);
    let paging = paging(&q)?;
    let mut f = Filters::new(&q);
    let status = f
        .choice(
            "Status",
            RoomStatus::parse,
            "in-progress, completed or failed",
        )?
        .unwrap_or(RoomStatus::InProgress);
    let filter = RoomFilter {
        status: Some(status),
        unique_name: f.text("UniqueName"),
        created_after: f.date("DateCreatedAfter")?,
        created_before: f.date("DateCreatedBefore")?,
    };
    let page = st
        .store
        .list_rooms(caller.account_sid, &filter, &paging.request)
        .await?;
    Ok(listing(
        &list_base(&st, &uri),
        &f.echoed,
        &paging,
        &page,
        "rooms",
        |r| RoomResource::new(r, &st.public_url),
        |r| r.sid.to_string(),
    ))
}

/// `GET /v1/Rooms/{RoomNameOrSid}`
pub(crate) async fn fetch(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(room): Segment,
) -> ApiResult<Response> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    Ok(crate::json(
        &RoomResource::new(&room, &st.public_url),
        ROOM_JSON,
    ))
}

/// `POST /v1/Rooms/{RoomNameOrSid}` with `Status=completed`.
pub(crate) async fn update(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(room): Segment,
    Form(p): Form,
) -> ApiResult<(StatusCode, Response)> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    if p.get("Status") != Some("completed") {
        return Err(vroom_domain::Error::RoomStatusInvalid.into());
    }
    let done = st.hub.complete_room(&room).await?;
    Ok((
        StatusCode::ACCEPTED,
        crate::json(&RoomResource::new(&done, &st.public_url), ROOM_JSON),
    ))
}

/// `GET /v1/Rooms/{RoomNameOrSid}/RecordingRules`: the rules in force (as created, or as last
/// set; `RecordParticipantsOnConnect=true` reads as include-all, nothing as exclude-all).
pub(crate) async fn recording_rules(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(room): Segment,
) -> ApiResult<Json<Value>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let rules = vroom_domain::live::initial_recording_rules(&room);
    Ok(Json(rules_resource(&room, &rules, room.date_updated)))
}

fn rules_resource(
    room: &vroom_domain::room::Room,
    rules: &[vroom_domain::rules::RecordingRule],
    updated: vroom_domain::time::Timestamp,
) -> Value {
    json!({
        "room_sid": room.sid.to_string(),
        "rules": rules_json(rules),
        "date_created": date(room.date_created),
        "date_updated": date(updated),
    })
}

/// `POST /v1/Rooms/{RoomNameOrSid}/RecordingRules` with `Rules`: replaces the room's recording
/// rules; recordings start and stop to match, and clients are told the room's recording state.
pub(crate) async fn update_recording_rules(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(room): Segment,
    crate::form::Form(form): crate::form::Form,
) -> ApiResult<Json<Value>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let Some(text) = form.get("Rules") else {
        return Err(vroom_domain::Error::RecordingRulesInvalid {
            why: "'Rules' is required",
        }
        .into());
    };
    let rules = crate::rules::parse(text, crate::rules::Purpose::Recording)?;
    let (rules, updated) = st.hub.set_recording_rules(&room, rules).await?;
    Ok(Json(rules_resource(&room, &rules, updated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_parameters() {
        let p = Params::parse(b"Type=group-small&UniqueName=a+b&MaxParticipants=4&VideoCodecs=VP8&VideoCodecs=H264&AudioOnly=true&EmptyRoomTimeout=10&RecordingRules=%7B%22rules%22%3A%5B%7B%22type%22%3A%22exclude%22%2C%22all%22%3Atrue%7D%5D%7D");
        let r = create_request(&p).unwrap();
        assert_eq!(r.room_type, Some(RoomType::GroupSmall));
        assert_eq!(r.unique_name.as_deref(), Some("a b"));
        assert_eq!(
            r.video_codecs,
            Some(vec![VideoCodec::Vp8, VideoCodec::H264])
        );
        assert_eq!(
            r.recording_rules.unwrap()[0].rule_type,
            vroom_domain::rules::RuleType::Exclude
        );
        let code = |body: &[u8]| {
            create_request(&Params::parse(body))
                .unwrap_err()
                .twilio_code()
        };
        assert_eq!(code(b"Type=huge"), 53108);
        assert_eq!(code(b"MaxParticipants=many"), 53107);
        assert_eq!(code(b"EmptyRoomTimeout=soon"), 53109);
        assert_eq!(code(b"StatusCallbackMethod=PUT"), 53110);
        assert_eq!(code(b"MaxParticipantDuration=x"), 53123);
        assert_eq!(code(b"RecordingRules=%5B%5D%5D"), 53120);
        assert_eq!(code(b"VideoCodecs=VP9"), 20001);
        assert_eq!(code(b"VideoCodecs="), 20001);
        assert_eq!(code(b"VideoCodecs=VP8&VideoCodecs="), 20001);
        assert_eq!(code(b"AudioOnly=yes"), 20001);
        assert_eq!(code(b"TranscriptionsConfiguration=%5B%5D"), 20001);
    }
}
