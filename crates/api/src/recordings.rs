//! `/v1/Recordings[/{Sid}[/Media]]` and `/v1/Rooms/{RoomSid}/Recordings[/{Sid}[/Media]]`: track
//! recordings (`video.v1.recording`, `video.v1.room.room_recording`) and their media.

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use vroom_domain::recording::{Recording, RecordingStatus};
use vroom_domain::room::Room;
use vroom_domain::sid::RecordingSid;
use vroom_domain::track::TrackKind;
use vroom_store::{Change, RecordingFilter};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::paging::{Filters, listing, paging};
use crate::wire::date;
use crate::{ApiState, Segment, Segment2, list_base, not_found, query_of, resolve_room};

/// `grouping_sids`.
#[derive(Debug, Serialize)]
struct GroupingSids {
    room_sid: String,
    participant_sid: String,
}

/// `links`.
#[derive(Debug, Serialize)]
struct MediaLinks {
    media: String,
}

/// `video.v1.recording`.
#[derive(Debug, Serialize)]
pub struct RecordingResource {
    account_sid: String,
    status: &'static str,
    date_created: String,
    sid: String,
    source_sid: String,
    size: u64,
    url: String,
    #[serde(rename = "type")]
    kind: &'static str,
    duration: Option<u32>,
    container_format: &'static str,
    codec: &'static str,
    grouping_sids: GroupingSids,
    track_name: String,
    offset: i64,
    media_external_location: Option<String>,
    status_callback: Option<String>,
    status_callback_method: Option<String>,
    links: MediaLinks,
}

impl RecordingResource {
    /// The resource of `r` under `base`.
    #[must_use]
    pub fn new(r: &Recording, base: &str) -> Self {
        let url = format!("{base}/v1/Recordings/{}", r.sid);
        Self {
            account_sid: r.account_sid.to_string(),
            status: r.status.as_str(),
            date_created: date(r.date_created),
            sid: r.sid.to_string(),
            source_sid: r.track_sid.to_string(),
            size: r.size,
            kind: r.kind.as_str(),
            duration: r.duration,
            container_format: r.container(),
            codec: r.codec.as_str(),
            grouping_sids: GroupingSids {
                room_sid: r.room_sid.to_string(),
                participant_sid: r.participant_sid.to_string(),
            },
            track_name: r.track_name.clone(),
            offset: r.offset,
            media_external_location: None,
            status_callback: None,
            status_callback_method: None,
            links: MediaLinks {
                media: format!("{url}/Media"),
            },
            url,
        }
    }
}

/// `video.v1.room.room_recording`.
#[derive(Debug, Serialize)]
pub struct RoomRecordingResource {
    account_sid: String,
    status: &'static str,
    date_created: String,
    sid: String,
    source_sid: String,
    size: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    duration: Option<u32>,
    container_format: &'static str,
    codec: &'static str,
    grouping_sids: GroupingSids,
    track_name: String,
    offset: i64,
    media_external_location: Option<String>,
    room_sid: String,
    url: String,
    links: MediaLinks,
}

impl RoomRecordingResource {
    /// The resource of `r` under `base`.
    #[must_use]
    pub fn new(r: &Recording, base: &str) -> Self {
        let url = format!("{base}/v1/Rooms/{}/Recordings/{}", r.room_sid, r.sid);
        Self {
            account_sid: r.account_sid.to_string(),
            status: r.status.as_str(),
            date_created: date(r.date_created),
            sid: r.sid.to_string(),
            source_sid: r.track_sid.to_string(),
            size: r.size,
            kind: r.kind.as_str(),
            duration: r.duration,
            container_format: r.container(),
            codec: r.codec.as_str(),
            grouping_sids: GroupingSids {
                room_sid: r.room_sid.to_string(),
                participant_sid: r.participant_sid.to_string(),
            },
            track_name: r.track_name.clone(),
            offset: r.offset,
            media_external_location: None,
            room_sid: r.room_sid.to_string(),
            links: MediaLinks {
                media: format!("{url}/Media"),
            },
            url,
        }
    }
}

const STATUSES: &str = "processing, completed, deleted or failed";

/// The filters both lists share, read from the query.
fn common_filters(f: &mut Filters<'_>) -> ApiResult<RecordingFilter> {
    let status = f.choice("Status", RecordingStatus::parse, STATUSES)?;
    let source_sid = f.text("SourceSid");
    if let Some(s) = &source_sid {
        check_sid("SourceSid", s)?;
    }
    Ok(RecordingFilter {
        status,
        source_sid,
        ..RecordingFilter::default()
    })
}

/// A SID parameter: two letters and 32 hex digits.
fn check_sid(name: &'static str, s: &str) -> ApiResult<()> {
    let ok = s.len() == 34
        && s[..2].chars().all(|c| c.is_ascii_alphabetic())
        && s[2..].chars().all(|c| c.is_ascii_hexdigit());
    if ok {
        Ok(())
    } else {
        Err(ApiError::param(
            name,
            format!("'{}' is not a SID", crate::form::shorten(s)),
        ))
    }
}

/// A recording of the caller's account by SID.
async fn resolve(st: &ApiState, caller: Caller, segment: &str, uri: &Uri) -> ApiResult<Recording> {
    let Ok(sid) = segment.parse::<RecordingSid>() else {
        return Err(not_found(uri));
    };
    st.store
        .recording(sid)
        .await?
        .filter(|r| r.account_sid == caller.account_sid)
        .ok_or_else(|| not_found(uri))
}

/// A recording of `room`.
async fn resolve_in_room(
    st: &ApiState,
    caller: Caller,
    room: &Room,
    segment: &str,
    uri: &Uri,
) -> ApiResult<Recording> {
    let r = resolve(st, caller, segment, uri).await?;
    if r.room_sid == room.sid {
        Ok(r)
    } else {
        Err(not_found(uri))
    }
}

/// `GET /v1/Recordings`
pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<axum::response::Response> {
    let q = query_of(&uri);
    let paging = paging(&q)?;
    let mut f = Filters::new(&q);
    let mut filter = common_filters(&mut f)?;
    for g in q.all("GroupingSid") {
        check_sid("GroupingSid", g)?;
        f.echoed.push(("GroupingSid", g.to_owned()));
        filter.grouping_sids.push(g.to_owned());
    }
    filter.created_after = f.date("DateCreatedAfter")?;
    filter.created_before = f.date("DateCreatedBefore")?;
    filter.kind = f.choice(
        "MediaType",
        |s| TrackKind::parse(s).filter(|k| *k != TrackKind::Data),
        "audio or video",
    )?;
    let page = st
        .store
        .list_recordings(caller.account_sid, &filter, &paging.request)
        .await?;
    Ok(listing(
        &list_base(&st, &uri),
        &f.echoed,
        &paging,
        &page,
        "recordings",
        |r| RecordingResource::new(r, &st.public_url),
        |r| r.sid.to_string(),
    ))
}

/// `GET /v1/Recordings/{Sid}`
pub(crate) async fn fetch(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<Json<RecordingResource>> {
    let r = resolve(&st, caller, &sid, &uri).await?;
    Ok(Json(RecordingResource::new(&r, &st.public_url)))
}

/// `DELETE /v1/Recordings/{Sid}`
pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<StatusCode> {
    let r = resolve(&st, caller, &sid, &uri).await?;
    delete_media(&st, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/Rooms/{RoomSid}/Recordings`
pub(crate) async fn list_in_room(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(room): Segment,
) -> ApiResult<axum::response::Response> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let q = query_of(&uri);
    let paging = paging(&q)?;
    let mut f = Filters::new(&q);
    let mut filter = common_filters(&mut f)?;
    filter.room = Some(room.sid);
    filter.created_after = f.date("DateCreatedAfter")?;
    filter.created_before = f.date("DateCreatedBefore")?;
    let page = st
        .store
        .list_recordings(caller.account_sid, &filter, &paging.request)
        .await?;
    Ok(listing(
        &list_base(&st, &uri),
        &f.echoed,
        &paging,
        &page,
        "recordings",
        |r| RoomRecordingResource::new(r, &st.public_url),
        |r| r.sid.to_string(),
    ))
}

/// `GET /v1/Rooms/{RoomSid}/Recordings/{Sid}`
pub(crate) async fn fetch_in_room(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, sid): Segment2,
) -> ApiResult<Json<RoomRecordingResource>> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let r = resolve_in_room(&st, caller, &room, &sid, &uri).await?;
    Ok(Json(RoomRecordingResource::new(&r, &st.public_url)))
}

/// `DELETE /v1/Rooms/{RoomSid}/Recordings/{Sid}`
pub(crate) async fn delete_in_room(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, sid): Segment2,
) -> ApiResult<StatusCode> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let r = resolve_in_room(&st, caller, &room, &sid, &uri).await?;
    delete_media(&st, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes a completed (or failed) recording's media and marks it deleted. One still being
/// written cannot be deleted yet (400).
async fn delete_media(st: &ApiState, mut r: Recording) -> ApiResult<()> {
    match r.status {
        RecordingStatus::Processing => {
            return Err(ApiError::param(
                "Sid",
                "the recording is still processing; delete it once it is completed",
            ));
        }
        RecordingStatus::Deleted => return Ok(()),
        RecordingStatus::Completed | RecordingStatus::Failed => {}
    }
    if let Some(media) = &st.media {
        media.remove(&r.file_name()).await?;
    }
    r.delete_media(st.hub.clock().now());
    st.store.apply(&[Change::UpdateRecording(r)], &[]).await?;
    Ok(())
}

/// `GET /v1/Recordings/{Sid}/Media`
pub(crate) async fn media(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<Response> {
    let r = resolve(&st, caller, &sid, &uri).await?;
    media_redirect(&st, &r, &uri)
}

/// `GET /v1/Rooms/{RoomSid}/Recordings/{Sid}/Media`
pub(crate) async fn media_in_room(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment2(room, sid): Segment2,
) -> ApiResult<Response> {
    let room = resolve_room(&st, caller, &room, &uri).await?;
    let r = resolve_in_room(&st, caller, &room, &sid, &uri).await?;
    media_redirect(&st, &r, &uri)
}

/// Twilio's answer to a media request: 302 to a short-lived URL of the file, with the same URL
/// as `redirect_to` in a JSON body (for clients that do not follow redirects).
fn media_redirect(st: &ApiState, r: &Recording, uri: &Uri) -> ApiResult<Response> {
    if r.status != RecordingStatus::Completed {
        // Twilio answers 404 for media that is not (or no longer) there.
        return Err(not_found(uri));
    }
    redirect_to_file(st, &r.file_name(), uri)
}

/// The 302 (and `redirect_to`) to a signed URL of `file` in the media store.
pub(crate) fn redirect_to_file(st: &ApiState, file: &str, uri: &Uri) -> ApiResult<Response> {
    let Some(media) = &st.media else {
        return Err(not_found(uri));
    };
    let now = st.hub.clock().now();
    let url = format!("{}{}", st.public_url, media.signed_path(file, now));
    let mut response = (StatusCode::FOUND, Json(json!({ "redirect_to": url }))).into_response();
    if let Ok(v) = url.parse() {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}
