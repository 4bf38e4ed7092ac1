//! `/v1/Compositions[/{Sid}[/Media]]` (`video.v1.composition`): requesting a composition of a
//! room's recordings (a job the composer runs), following it, downloading and deleting its media.
//!
//! <https://www.twilio.com/docs/video/api/compositions-resource>

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use serde_json::Value;
use vroom_domain::composition::{Composition, CompositionSpec, CompositionStatus};
use vroom_domain::event::{CompositionFacts, EventKind, StatusEvent};
use vroom_domain::sid::{CompositionSid, RoomSid};
use vroom_store::{Change, CompositionFilter};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::Form;
use crate::layouts::{layout_json, spec};
use crate::paging::{Filters, listing, paging};
use crate::wire::date;
use crate::{ApiState, Segment, list_base, not_found, query_of};

/// `links`.
#[derive(Debug, Serialize)]
struct MediaLinks {
    media: String,
}

/// `video.v1.composition`.
#[derive(Debug, Serialize)]
pub struct CompositionResource {
    account_sid: String,
    status: &'static str,
    date_created: String,
    date_completed: Option<String>,
    date_deleted: Option<String>,
    sid: String,
    room_sid: String,
    audio_sources: Vec<String>,
    audio_sources_excluded: Vec<String>,
    video_layout: Value,
    resolution: String,
    trim: bool,
    format: &'static str,
    bitrate: u32,
    size: u64,
    duration: u32,
    media_external_location: Option<String>,
    status_callback: Option<String>,
    status_callback_method: &'static str,
    url: String,
    links: MediaLinks,
}

impl CompositionResource {
    /// The resource of `c` under `base`.
    #[must_use]
    pub fn new(c: &Composition, base: &str) -> Self {
        let url = format!("{base}/v1/Compositions/{}", c.sid);
        let s = &c.spec;
        Self {
            account_sid: c.account_sid.to_string(),
            status: c.status.as_str(),
            date_created: date(c.date_created),
            date_completed: c.date_completed.map(date),
            date_deleted: c.date_deleted.map(date),
            sid: c.sid.to_string(),
            room_sid: c.room_sid.to_string(),
            audio_sources: s.audio_sources.clone(),
            audio_sources_excluded: s.audio_sources_excluded.clone(),
            video_layout: layout_json(&s.video_layout),
            resolution: s.resolution.to_string(),
            trim: s.trim,
            format: s.format.as_str(),
            bitrate: c.bitrate,
            size: c.size,
            duration: c.duration,
            media_external_location: None,
            status_callback: s.status_callback.clone(),
            status_callback_method: s.status_callback_method.as_str(),
            links: MediaLinks {
                media: format!("{url}/Media"),
            },
            url,
        }
    }
}

/// Checks `spec`'s callback against the operator's outbound policy.
pub(crate) async fn check_callback(st: &ApiState, spec: &CompositionSpec) -> ApiResult<()> {
    if let (Some(check), Some(url)) = (&st.callback_check, &spec.status_callback) {
        check(url.clone())
            .await
            .map_err(ApiError::CallbackRefused)?;
    }
    Ok(())
}

/// `POST /v1/Compositions`: enqueued at once; the composer starts it when the room has ended and
/// its recordings are final.
pub(crate) async fn create(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json<CompositionResource>)> {
    let Some(room) = p.get("RoomSid") else {
        return Err(ApiError::param("RoomSid", "is required"));
    };
    let room_sid: RoomSid = room.parse().map_err(|_| {
        ApiError::param(
            "RoomSid",
            format!("'{}' is not a room SID", crate::form::shorten(room)),
        )
    })?;
    let spec = spec(&p, CompositionSpec::default())?;
    let room = st
        .store
        .room(room_sid)
        .await?
        .filter(|r| r.account_sid == caller.account_sid)
        .ok_or_else(|| ApiError::param("RoomSid", format!("no room {room_sid} in this account")))?;
    if !room.settings.room_type.has_media_server() {
        return Err(ApiError::param(
            "RoomSid",
            "only group rooms have recordings to compose",
        ));
    }
    check_callback(&st, &spec).await?;
    let c = Composition::enqueue(
        CompositionSid::generate(st.hub.ids()),
        caller.account_sid,
        room.sid,
        spec,
        st.hub.clock().now(),
    );
    // `composition-enqueued`, stored with the composition (its room's order).
    let seq = st.store.next_event_sequence(room.sid).await?;
    let enqueued: Vec<_> = StatusEvent::for_composition(
        &room,
        &c,
        EventKind::CompositionEnqueued,
        CompositionFacts::of(&c),
        c.date_created,
        seq,
    )
    .into_iter()
    .collect();
    st.store
        .apply(&[Change::InsertComposition(c.clone())], &enqueued)
        .await?;
    if let Some(wake) = &st.composer {
        wake.notify_one();
    }
    Ok((
        StatusCode::CREATED,
        Json(CompositionResource::new(&c, &st.public_url)),
    ))
}

/// A composition of the caller's account by SID.
async fn resolve(
    st: &ApiState,
    caller: Caller,
    segment: &str,
    uri: &Uri,
) -> ApiResult<Composition> {
    let Ok(sid) = segment.parse::<CompositionSid>() else {
        return Err(not_found(uri));
    };
    st.store
        .composition(sid)
        .await?
        .filter(|c| c.account_sid == caller.account_sid)
        .ok_or_else(|| not_found(uri))
}

/// `GET /v1/Compositions`
pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<axum::response::Response> {
    let q = query_of(&uri);
    let paging = paging(&q)?;
    let mut f = Filters::new(&q);
    let status = f.choice(
        "Status",
        CompositionStatus::parse,
        "enqueued, processing, completed, deleted or failed",
    )?;
    let created_after = f.date("DateCreatedAfter")?;
    let created_before = f.date("DateCreatedBefore")?;
    let room = match f.text("RoomSid") {
        None => None,
        Some(r) => Some(
            r.parse::<RoomSid>()
                .map_err(|_| ApiError::param("RoomSid", "is not a room SID"))?,
        ),
    };
    let filter = CompositionFilter {
        room,
        status,
        created_after,
        created_before,
    };
    let page = st
        .store
        .list_compositions(caller.account_sid, &filter, &paging.request)
        .await?;
    Ok(listing(
        &list_base(&st, &uri),
        &f.echoed,
        &paging,
        &page,
        "compositions",
        |c| CompositionResource::new(c, &st.public_url),
        |c| c.sid.to_string(),
    ))
}

/// `GET /v1/Compositions/{Sid}`
pub(crate) async fn fetch(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<Json<CompositionResource>> {
    let c = resolve(&st, caller, &sid, &uri).await?;
    Ok(Json(CompositionResource::new(&c, &st.public_url)))
}

/// `DELETE /v1/Compositions/{Sid}`: removes the media and marks the composition deleted. One that
/// is still enqueued or processing cannot be deleted yet (400).
pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<StatusCode> {
    let mut c = resolve(&st, caller, &sid, &uri).await?;
    match c.status {
        CompositionStatus::Enqueued | CompositionStatus::Processing => {
            return Err(ApiError::param(
                "Sid",
                "the composition is still being composed; delete it once it is completed or failed",
            ));
        }
        CompositionStatus::Deleted => return Ok(StatusCode::NO_CONTENT),
        CompositionStatus::Completed | CompositionStatus::Failed => {}
    }
    if let Some(media) = &st.media {
        media.remove(&c.file_name()).await?;
    }
    c.delete_media(st.hub.clock().now());
    st.store.apply(&[Change::UpdateComposition(c)], &[]).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/Compositions/{Sid}/Media`: 302 to a short-lived URL of the file (and the URL as
/// `redirect_to`), like a recording's; 404 unless completed.
pub(crate) async fn media(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<Response> {
    let c = resolve(&st, caller, &sid, &uri).await?;
    if c.status != CompositionStatus::Completed {
        return Err(not_found(&uri));
    }
    crate::recordings::redirect_to_file(&st, &c.file_name(), &uri)
}
