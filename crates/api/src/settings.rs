//! `/v1/RecordingSettings/Default` and `/v1/CompositionSettings/Default`
//! (`video.v1.recording_settings`, `video.v1.composition_settings`): stored and returned as Twilio
//! does. vroom keeps media in its own media store whatever they say: external (S3) storage and
//! encryption are accepted and not used (docs/compatibility.md).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use vroom_domain::media_settings::{MediaSettings, SettingsKind};
use vroom_domain::room::validate_callback_url;
use vroom_store::Change;

use crate::ApiState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::form::{Form, Params};

/// `video.v1.recording_settings` / `video.v1.composition_settings`.
#[derive(Debug, Serialize)]
pub struct SettingsResource {
    account_sid: String,
    friendly_name: Option<String>,
    aws_credentials_sid: Option<String>,
    aws_s3_url: Option<String>,
    aws_storage_enabled: bool,
    encryption_key_sid: Option<String>,
    encryption_enabled: bool,
    url: String,
}

impl SettingsResource {
    fn new(s: &MediaSettings, base: &str) -> Self {
        let path = match s.kind {
            SettingsKind::Recording => "RecordingSettings",
            SettingsKind::Composition => "CompositionSettings",
        };
        Self {
            account_sid: s.account_sid.to_string(),
            friendly_name: Some(s.friendly_name.clone()).filter(|n| !n.is_empty()),
            aws_credentials_sid: s.aws_credentials_sid.clone(),
            aws_s3_url: s.aws_s3_url.clone(),
            aws_storage_enabled: s.aws_storage_enabled,
            encryption_key_sid: s.encryption_key_sid.clone(),
            encryption_enabled: s.encryption_enabled,
            url: format!("{base}/v1/{path}/Default"),
        }
    }
}

/// A `CR…` SID parameter.
fn credential_sid(p: &Params, name: &'static str) -> ApiResult<Option<String>> {
    match p.get(name) {
        None | Some("") => Ok(None),
        Some(v)
            if v.len() == 34
                && v.starts_with("CR")
                && v[2..].chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            Ok(Some(v.to_owned()))
        }
        Some(v) => Err(ApiError::param(
            name,
            format!("'{}' is not a CR… SID", crate::form::shorten(v)),
        )),
    }
}

fn read(p: &Params, kind: SettingsKind, caller: Caller) -> ApiResult<MediaSettings> {
    let friendly_name = p
        .get("FriendlyName")
        .ok_or_else(|| ApiError::param("FriendlyName", "is required"))?;
    if friendly_name.chars().count() > 255 {
        return Err(ApiError::param("FriendlyName", "is at most 255 characters"));
    }
    let aws_s3_url = match p.get("AwsS3Url") {
        None | Some("") => None,
        Some(u) => {
            validate_callback_url(u)
                .map_err(|_| ApiError::param("AwsS3Url", "must be an http(s) URL"))?;
            Some(u.to_owned())
        }
    };
    Ok(MediaSettings {
        kind,
        account_sid: caller.account_sid,
        friendly_name: friendly_name.to_owned(),
        aws_credentials_sid: credential_sid(p, "AwsCredentialsSid")?,
        aws_s3_url,
        aws_storage_enabled: p.boolean("AwsStorageEnabled")?.unwrap_or(false),
        encryption_key_sid: credential_sid(p, "EncryptionKeySid")?,
        encryption_enabled: p.boolean("EncryptionEnabled")?.unwrap_or(false),
    })
}

async fn fetch(st: &ApiState, caller: Caller, kind: SettingsKind) -> ApiResult<SettingsResource> {
    let s = st
        .store
        .media_settings(caller.account_sid, kind)
        .await?
        .unwrap_or_else(|| MediaSettings::unset(kind, caller.account_sid));
    Ok(SettingsResource::new(&s, &st.public_url))
}

async fn save(
    st: &ApiState,
    caller: Caller,
    kind: SettingsKind,
    p: &Params,
) -> ApiResult<SettingsResource> {
    let s = read(p, kind, caller)?;
    st.store
        .apply(&[Change::SaveMediaSettings(s.clone())], &[])
        .await?;
    Ok(SettingsResource::new(&s, &st.public_url))
}

/// `GET /v1/RecordingSettings/Default`
pub(crate) async fn recording(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
) -> ApiResult<Json<SettingsResource>> {
    Ok(Json(fetch(&st, caller, SettingsKind::Recording).await?))
}

/// `POST /v1/RecordingSettings/Default`
pub(crate) async fn set_recording(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    Form(p): Form,
) -> ApiResult<Json<SettingsResource>> {
    Ok(Json(save(&st, caller, SettingsKind::Recording, &p).await?))
}

/// `GET /v1/CompositionSettings/Default`
pub(crate) async fn composition(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
) -> ApiResult<Json<SettingsResource>> {
    Ok(Json(fetch(&st, caller, SettingsKind::Composition).await?))
}

/// `POST /v1/CompositionSettings/Default`
pub(crate) async fn set_composition(
    State(st): State<Arc<ApiState>>,
    caller: Caller,
    Form(p): Form,
) -> ApiResult<Json<SettingsResource>> {
    Ok(Json(
        save(&st, caller, SettingsKind::Composition, &p).await?,
    ))
}
