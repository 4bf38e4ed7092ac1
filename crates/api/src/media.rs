//! The media store as REST sees it: short-lived signed URLs of recording and composition files (what
//! `…/Media` redirects to), serving them, and deleting them. A URL carries its expiry and an
//! HMAC-SHA256 of the file name and expiry under a key of this process, so it needs no
//! credentials and stops working after [`URL_TTL_SECS`].

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tower_http::services::ServeFile;
use vroom_domain::time::Timestamp;

use crate::error::{ApiError, ApiResult};
use crate::{ApiState, Segment, not_found, query_of};

/// How long a media URL works.
pub const URL_TTL_SECS: i64 = 600;

/// Where recording files are, and the key their URLs are signed with.
pub struct MediaStore {
    dir: PathBuf,
    key: [u8; 32],
}

impl MediaStore {
    /// The media store in `dir`, signing URLs with `key`.
    #[must_use]
    pub fn new(dir: PathBuf, key: [u8; 32]) -> Self {
        Self { dir, key }
    }

    fn signature(&self, file: &str, expires: i64) -> String {
        // HMAC takes a key of any length.
        #[allow(clippy::expect_used)]
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(file.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac.finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The path (from the server's root) of a URL of `file` that works until `now` + the TTL.
    #[must_use]
    pub fn signed_path(&self, file: &str, now: Timestamp) -> String {
        let expires = now.secs() + URL_TTL_SECS;
        format!(
            "/media/{file}?Expires={expires}&Signature={}",
            self.signature(file, expires)
        )
    }

    fn verify(&self, file: &str, expires: &str, signature: &str, now: Timestamp) -> bool {
        let Ok(e) = expires.parse::<i64>() else {
            return false;
        };
        let want = self.signature(file, e);
        e >= now.secs()
            && subtle::ConstantTimeEq::ct_eq(want.as_bytes(), signature.as_bytes()).into()
    }

    /// Removes a file (gone already is fine).
    ///
    /// # Errors
    /// When the file exists and cannot be removed.
    pub async fn remove(&self, file: &str) -> ApiResult<()> {
        match tokio::fs::remove_file(self.dir.join(file)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(ApiError::Internal(format!(
                "cannot delete a media file: {e}"
            ))),
        }
    }
}

/// A file name of the media store: a recording SID and its container, or a composition SID and
/// its format; nothing that walks paths.
fn valid_name(file: &str) -> bool {
    let Some((stem, ext)) = file.split_once('.') else {
        return false;
    };
    let prefix = match ext {
        "mka" | "mkv" => "RT",
        "mp4" | "webm" => "CJ",
        _ => return false,
    };
    stem.len() == 34 && stem.starts_with(prefix) && stem[2..].chars().all(|c| c.is_ascii_hexdigit())
}

/// `GET /media/{file}?Expires=…&Signature=…`: the file, if the URL is genuine and not expired.
/// Served as a file server (and S3, where Twilio's URLs point) serves one: streamed rather than
/// read whole, with `Range` (206, or 416 past the end), `Accept-Ranges`, `Last-Modified` and
/// `If-Modified-Since`, and `HEAD`, so players can seek and downloads can resume.
pub(crate) async fn serve(
    State(st): State<Arc<ApiState>>,
    OriginalUri(uri): OriginalUri,
    Segment(file): Segment,
    request: Request,
) -> ApiResult<Response> {
    let Some(media) = &st.media else {
        return Err(not_found(&uri));
    };
    let q = query_of(&uri);
    let (Some(expires), Some(signature)) = (q.get("Expires"), q.get("Signature")) else {
        return Err(ApiError::Unauthorized);
    };
    if !valid_name(&file) || !media.verify(&file, expires, signature, st.hub.clock().now()) {
        return Err(ApiError::Unauthorized);
    }
    let kind = match file.rsplit('.').next() {
        Some("mka") => "audio/x-matroska",
        Some("mp4") => "video/mp4",
        Some("webm") => "video/webm",
        _ => "video/x-matroska",
    };
    let mut served = ServeFile::new(media.dir.join(&file))
        .try_call(request)
        .await
        .map_err(|e| ApiError::Internal(format!("cannot read a media file: {e}")))?;
    if served.status() == StatusCode::NOT_FOUND {
        return Err(not_found(&uri));
    }
    // By our names, not by a guess from the extension (a 416 has no type to set).
    if served.headers().contains_key(header::CONTENT_TYPE) {
        served
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    }
    Ok(served.map(Body::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_signed_and_expire() {
        let m = MediaStore::new(PathBuf::from("/nowhere"), [7; 32]);
        let file = "RT0123456789abcdef0123456789abcdef.mka";
        let now = Timestamp::from_secs(1_800_000_000);
        let path = m.signed_path(file, now);
        let query = path.split_once('?').unwrap().1;
        let q = crate::form::Params::parse(query.as_bytes());
        let (e, s) = (q.get("Expires").unwrap(), q.get("Signature").unwrap());
        assert!(m.verify(file, e, s, now));
        assert!(m.verify(
            file,
            e,
            s,
            Timestamp::from_secs(1_800_000_000 + URL_TTL_SECS)
        ));
        assert!(!m.verify(
            file,
            e,
            s,
            Timestamp::from_secs(1_800_000_001 + URL_TTL_SECS)
        ));
        assert!(!m.verify("RT0123456789abcdef0123456789abcdee.mka", e, s, now));
        let other = MediaStore::new(PathBuf::from("/nowhere"), [8; 32]);
        assert!(!other.verify(file, e, s, now));
        assert!(valid_name(file));
        assert!(!valid_name("../vroom.db"));
        assert!(!valid_name("RT0123456789abcdef0123456789abcdef.db"));
        assert!(valid_name("CJ0123456789abcdef0123456789abcdef.mp4"));
        assert!(!valid_name("RT0123456789abcdef0123456789abcdef.mp4"));
    }
}
