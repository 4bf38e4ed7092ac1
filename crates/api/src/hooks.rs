//! `/v1/CompositionHooks[/{Sid}]` (`video.v1.composition_hook`): compositions made by themselves
//! when a room of the account ends (the composer makes them; see `src/compose`).
//!
//! <https://www.twilio.com/docs/video/api/composition-hooks>

use std::sync::Arc;

use axum::Json;
use axum::extract::{OriginalUri, State};
use axum::http::{StatusCode, Uri};
use serde::Serialize;
use serde_json::Value;
use vroom_domain::composition::{CompositionHook, CompositionSpec, validate_friendly_name};
use vroom_domain::sid::CompositionHookSid;
use vroom_store::{Change, CompositionHookFilter};

use crate::auth::Caller;
use crate::compositions::check_callback;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params};
use crate::layouts::{layout_json, spec};
use crate::paging::{Filters, listing, paging};
use crate::wire::date;
use crate::{ApiState, Segment, list_base, not_found, query_of};

/// `video.v1.composition_hook`.
#[derive(Debug, Serialize)]
pub struct HookResource {
    account_sid: String,
    friendly_name: String,
    enabled: bool,
    date_created: String,
    date_updated: Option<String>,
    sid: String,
    audio_sources: Vec<String>,
    audio_sources_excluded: Vec<String>,
    video_layout: Value,
    resolution: String,
    trim: bool,
    format: &'static str,
    status_callback: Option<String>,
    status_callback_method: &'static str,
    url: String,
}

impl HookResource {
    /// The resource of `h` under `base`.
    #[must_use]
    pub fn new(h: &CompositionHook, base: &str) -> Self {
        let s = &h.spec;
        Self {
            account_sid: h.account_sid.to_string(),
            friendly_name: h.friendly_name.clone(),
            enabled: h.enabled,
            date_created: date(h.date_created),
            date_updated: h.date_updated.map(date),
            sid: h.sid.to_string(),
            audio_sources: s.audio_sources.clone(),
            audio_sources_excluded: s.audio_sources_excluded.clone(),
            video_layout: layout_json(&s.video_layout),
            resolution: s.resolution.to_string(),
            trim: s.trim,
            format: s.format.as_str(),
            status_callback: s.status_callback.clone(),
            status_callback_method: s.status_callback_method.as_str(),
            url: format!("{base}/v1/CompositionHooks/{}", h.sid),
        }
    }
}

fn friendly_name(p: &Params) -> ApiResult<String> {
    let name = p
        .get("FriendlyName")
        .ok_or_else(|| ApiError::param("FriendlyName", "is required"))?;
    validate_friendly_name(name)?;
    Ok(name.to_owned())
}

/// `POST /v1/CompositionHooks`
pub(crate) async fn create(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    Form(p): Form,
) -> ApiResult<(StatusCode, Json<HookResource>)> {
    let friendly_name = friendly_name(&p)?;
    let enabled = p.boolean("Enabled")?.unwrap_or(true);
    let spec = spec(&p, CompositionSpec::default())?;
    check_callback(&st, &spec).await?;
    let h = CompositionHook {
        sid: CompositionHookSid::generate(st.hub.ids()),
        account_sid: caller.account_sid,
        friendly_name,
        enabled,
        spec,
        date_created: st.hub.clock().now(),
        date_updated: None,
    };
    st.store
        .apply(&[Change::InsertCompositionHook(h.clone())], &[])
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(HookResource::new(&h, &st.public_url)),
    ))
}

async fn resolve(
    st: &ApiState,
    caller: Caller,
    segment: &str,
    uri: &Uri,
) -> ApiResult<CompositionHook> {
    let Ok(sid) = segment.parse::<CompositionHookSid>() else {
        return Err(not_found(uri));
    };
    st.store
        .composition_hook(sid)
        .await?
        .filter(|h| h.account_sid == caller.account_sid)
        .ok_or_else(|| not_found(uri))
}

/// `GET /v1/CompositionHooks`
pub(crate) async fn list(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<axum::response::Response> {
    let q = query_of(&uri);
    let paging = paging(&q)?;
    let mut f = Filters::new(&q);
    let enabled = f.choice(
        "Enabled",
        |v| match v.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        "true or false",
    )?;
    let filter = CompositionHookFilter {
        enabled,
        created_after: f.date("DateCreatedAfter")?,
        created_before: f.date("DateCreatedBefore")?,
        friendly_name: f.text("FriendlyName"),
    };
    let page = st
        .store
        .list_composition_hooks(caller.account_sid, &filter, &paging.request)
        .await?;
    Ok(listing(
        &list_base(&st, &uri),
        &f.echoed,
        &paging,
        &page,
        "composition_hooks",
        |h| HookResource::new(h, &st.public_url),
        |h| h.sid.to_string(),
    ))
}

/// `GET /v1/CompositionHooks/{Sid}`
pub(crate) async fn fetch(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<Json<HookResource>> {
    let h = resolve(&st, caller, &sid, &uri).await?;
    Ok(Json(HookResource::new(&h, &st.public_url)))
}

/// `POST /v1/CompositionHooks/{Sid}`: `FriendlyName` again (required, as Twilio has it) and the
/// parameters to change; those not sent keep their values.
pub(crate) async fn update(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
    Form(p): Form,
) -> ApiResult<Json<HookResource>> {
    let mut h = resolve(&st, caller, &sid, &uri).await?;
    h.friendly_name = friendly_name(&p)?;
    if let Some(enabled) = p.boolean("Enabled")? {
        h.enabled = enabled;
    }
    h.spec = spec(&p, h.spec.clone())?;
    check_callback(&st, &h.spec).await?;
    h.date_updated = Some(st.hub.clock().now());
    st.store
        .apply(&[Change::UpdateCompositionHook(h.clone())], &[])
        .await?;
    Ok(Json(HookResource::new(&h, &st.public_url)))
}

/// `DELETE /v1/CompositionHooks/{Sid}`: the hook stops composing; compositions it made stay.
pub(crate) async fn delete(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    OriginalUri(uri): OriginalUri,
    Segment(sid): Segment,
) -> ApiResult<StatusCode> {
    let h = resolve(&st, caller, &sid, &uri).await?;
    st.store
        .apply(&[Change::DeleteCompositionHook(h.sid)], &[])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
