//! Twilio access tokens: JWTs signed with an API key secret, carrying a video grant.
//!
//! The format is the one Twilio's helper libraries produce: header `{"alg":"HS256","cty":"twilio-fpa;v=1",
//! "typ":"JWT"}`, claims `jti`, `iss` (API key SID), `sub` (account SID), `exp`, optional `nbf`/`iat`,
//! and `grants` with `identity` and `video` (optionally `{"room": name}`). Every check that fails has
//! its own Twilio code, so clients see exactly what is wrong.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use vroom_domain::names::validate_identity;
use vroom_domain::sid::{AccountSid, ApiKeySid};
use vroom_domain::time::Timestamp;

/// The `cty` header value of Twilio access tokens.
pub const TWILIO_CTY: &str = "twilio-fpa;v=1";
/// Tolerance for clock differences when checking `exp` and `nbf`, seconds.
pub const LEEWAY_SECS: i64 = 30;
/// Longest accepted token lifetime, seconds (24 h).
pub const MAX_TTL_SECS: i64 = 86_400;

/// A key that may sign access tokens.
#[derive(Clone)]
pub struct TokenKey {
    /// The account the key belongs to (`sub`).
    pub account_sid: AccountSid,
    /// The key (`iss`).
    pub api_key_sid: ApiKeySid,
    /// The signing secret.
    pub secret: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("account_sid", &self.account_sid)
            .field("api_key_sid", &self.api_key_sid)
            .finish_non_exhaustive()
    }
}

/// What a valid token allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoGrant {
    /// The account the participant joins rooms of.
    pub account_sid: AccountSid,
    /// Who the participant is.
    pub identity: String,
    /// The only room the token may join, if it names one.
    pub room: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT at all.
    #[error("Invalid Access Token: {0}")]
    Invalid(&'static str),
    /// Wrong algorithm or content type.
    #[error("Invalid Access Token header: {0}")]
    Header(&'static str),
    /// Unknown API key, or a subject that is not the key's account.
    #[error("Invalid Access Token issuer/subject: {0}")]
    Issuer(&'static str),
    /// Expired, without an expiry, or valid for more than 24 hours.
    #[error("Access Token expired or expiration date invalid")]
    Expired,
    /// `nbf` in the future.
    #[error("Access Token not yet valid")]
    NotYetValid,
    /// No identity or no video grant, or a malformed grant.
    #[error("Invalid Access Token grants: {0}")]
    Grants(&'static str),
    /// The signature does not match the API key secret.
    #[error("Invalid Access Token signature")]
    Signature,
    /// The identity breaks an identity rule.
    #[error(transparent)]
    Identity(vroom_domain::Error),
}

impl TokenError {
    /// Twilio's code for the refusal.
    #[must_use]
    pub const fn code(&self) -> u32 {
        match self {
            Self::Invalid(_) => 20101,
            Self::Header(_) => 20102,
            Self::Issuer(_) => 20103,
            Self::Expired => 20104,
            Self::NotYetValid => 20105,
            Self::Grants(_) => 20106,
            Self::Signature => 20107,
            Self::Identity(e) => e.code(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    /// Any JSON value: one that is not a whole number of seconds within `i64` is an invalid
    /// expiration (20104), not a malformed token.
    exp: Option<Value>,
    nbf: Option<i64>,
    grants: Option<Value>,
}

fn unverified_issuer(token: &str) -> Result<String, TokenError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(TokenError::Invalid("not a JWT"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| TokenError::Invalid("payload is not base64url"))?;
    // Only `iss` is kept; the other claims are skipped, not built (the payload is read again,
    // whole, once the signature is checked).
    let Ok(Issuer { iss }) = serde_json::from_slice::<Issuer>(&bytes) else {
        return Err(TokenError::Invalid("payload is not JSON"));
    };
    match iss {
        Some(Value::String(iss)) => Ok(iss),
        _ => Err(TokenError::Issuer("no issuer")),
    }
}

/// The one claim read before the signature is checked.
#[derive(Deserialize)]
struct Issuer {
    iss: Option<Value>,
}

/// The API key `token` says signed it (its `iss`), unverified: which key to check it with. `None`
/// when the token names no key SID.
#[must_use]
pub fn issuer(token: &str) -> Option<ApiKeySid> {
    unverified_issuer(token).ok()?.parse().ok()
}

/// Checks `token` against the known `keys` at time `now`.
///
/// # Errors
/// The first failed check, as a `TokenError` carrying Twilio's code.
pub fn verify(token: &str, keys: &[TokenKey], now: Timestamp) -> Result<VideoGrant, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid("not a JWT"))?;
    if !matches!(
        header.alg,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
    ) {
        return Err(TokenError::Header("alg must be HS256, HS384 or HS512"));
    }
    if header.cty.as_deref() != Some(TWILIO_CTY) {
        return Err(TokenError::Header("cty must be twilio-fpa;v=1"));
    }
    let issuer = unverified_issuer(token)?;
    let key = keys
        .iter()
        .find(|k| k.api_key_sid.to_string() == issuer)
        .ok_or(TokenError::Issuer("the issuer is not a known API key"))?;

    let mut validation = Validation::new(header.alg);
    // Time is checked below against the injected clock, not the system clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(key.secret.as_bytes()),
        &validation,
    )
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::InvalidSignature => TokenError::Signature,
        _ => TokenError::Invalid("malformed claims"),
    })?;
    let claims = data.claims;
    if claims.iss.as_deref() != Some(issuer.as_str()) {
        return Err(TokenError::Issuer("the issuer is not a known API key"));
    }
    if claims.sub.as_deref() != Some(key.account_sid.to_string().as_str()) {
        return Err(TokenError::Issuer(
            "the subject is not the API key's account",
        ));
    }
    let now_s = now.secs();
    let exp = claims
        .exp
        .as_ref()
        .and_then(Value::as_i64)
        .ok_or(TokenError::Expired)?;
    // `exp` is the caller's number: compared without arithmetic on it, so none can overflow.
    if exp < now_s - LEEWAY_SECS || exp > now_s + MAX_TTL_SECS + LEEWAY_SECS {
        return Err(TokenError::Expired);
    }
    if claims.nbf.is_some_and(|nbf| nbf > now_s + LEEWAY_SECS) {
        return Err(TokenError::NotYetValid);
    }
    let grants = claims.grants.ok_or(TokenError::Grants("no grants"))?;
    let identity = match grants.get("identity") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err(TokenError::Grants("no identity")),
    };
    let video = grants
        .get("video")
        .ok_or(TokenError::Grants("no video grant"))?;
    let room = match video.get("room") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(TokenError::Grants("video.room must be a string")),
    };
    if !video.is_object() {
        return Err(TokenError::Grants("video grant must be an object"));
    }
    validate_identity(&identity).map_err(TokenError::Identity)?;
    Ok(VideoGrant {
        account_sid: key.account_sid,
        identity,
        room,
    })
}

#[derive(Serialize)]
struct MintClaims<'a> {
    jti: String,
    iss: String,
    sub: String,
    nbf: i64,
    exp: i64,
    grants: MintGrants<'a>,
}

#[derive(Serialize)]
struct MintGrants<'a> {
    identity: &'a str,
    video: MintVideo<'a>,
}

#[derive(Serialize)]
struct MintVideo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
}

/// Mints a token the way Twilio's Python helper library does (HS256, `nbf` = now, no `iat`).
///
/// # Errors
/// Only if signing fails, which HMAC does not.
pub fn mint(
    key: &TokenKey,
    identity: &str,
    room: Option<&str>,
    ttl_secs: i64,
    now: Timestamp,
) -> Result<String, jsonwebtoken::errors::Error> {
    let header = Header {
        alg: Algorithm::HS256,
        typ: Some("JWT".to_owned()),
        cty: Some(TWILIO_CTY.to_owned()),
        ..Header::default()
    };
    let claims = MintClaims {
        jti: format!("{}-{}", key.api_key_sid, now.secs()),
        iss: key.api_key_sid.to_string(),
        sub: key.account_sid.to_string(),
        nbf: now.secs(),
        exp: now.secs() + ttl_secs,
        grants: MintGrants {
            identity,
            video: MintVideo { room },
        },
    };
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_secret(key.secret.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> TokenKey {
        TokenKey {
            account_sid: AccountSid::from_bytes([0xac; 16]),
            api_key_sid: ApiKeySid::from_bytes([0x5c; 16]),
            secret: "s3cret".into(),
        }
    }

    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

    fn sign(header: &Header, claims: &Value, secret: &str) -> String {
        jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    fn twilio_header() -> Header {
        Header {
            cty: Some(TWILIO_CTY.into()),
            typ: Some("JWT".into()),
            ..Header::new(Algorithm::HS256)
        }
    }

    fn claims(exp_in: i64, grants: Value) -> Value {
        serde_json::json!({
            "jti": "x", "iss": key().api_key_sid.to_string(), "sub": key().account_sid.to_string(),
            "exp": NOW.secs() + exp_in, "grants": grants,
        })
    }

    #[test]
    fn minted_tokens_verify() {
        let t = mint(&key(), "alice", Some("standup"), 3600, NOW).unwrap();
        let g = verify(&t, &[key()], NOW).unwrap();
        assert_eq!(
            (g.identity.as_str(), g.room.as_deref()),
            ("alice", Some("standup"))
        );
        let t = mint(&key(), "bob", None, 60, NOW).unwrap();
        assert_eq!(verify(&t, &[key()], NOW).unwrap().room, None);
    }

    #[test]
    fn each_failure_has_its_code() {
        let code = |t: &str, now| verify(t, &[key()], now).unwrap_err().code();
        let good = claims(3600, serde_json::json!({"identity": "a", "video": {}}));
        assert_eq!(code("garbage", NOW), 20101);
        assert_eq!(
            code(&sign(&Header::new(Algorithm::HS256), &good, "s3cret"), NOW),
            20102
        );
        assert_eq!(code(&sign(&twilio_header(), &good, "wrong"), NOW), 20107);
        let t = mint(&key(), "a", None, 60, NOW).unwrap();
        assert_eq!(
            code(&t, Timestamp::from_secs(NOW.secs() + 60 + LEEWAY_SECS + 1)),
            20104
        );
        assert_eq!(
            code(&t, Timestamp::from_secs(NOW.secs() - LEEWAY_SECS - 1)),
            20105
        );
        let far = claims(
            MAX_TTL_SECS + 3600,
            serde_json::json!({"identity": "a", "video": {}}),
        );
        assert_eq!(code(&sign(&twilio_header(), &far, "s3cret"), NOW), 20104);
        // Expirations at and past the integer limits are refused, never overflowed.
        for exp in [
            serde_json::json!(i64::MAX),
            serde_json::json!(i64::MAX - LEEWAY_SECS + 1),
            serde_json::json!(i64::MIN),
            serde_json::json!(u64::MAX),
            serde_json::json!(1e300),
            serde_json::json!(NOW.secs() as f64 + 60.5),
            serde_json::json!("1800000060"),
            Value::Null,
        ] {
            let mut c = good.clone();
            c["exp"] = exp.clone();
            assert_eq!(
                code(&sign(&twilio_header(), &c, "s3cret"), NOW),
                20104,
                "{exp}"
            );
        }
        for nbf in [i64::MAX, i64::MIN] {
            let mut c = good.clone();
            c["nbf"] = serde_json::json!(nbf);
            let expected = if nbf > 0 { 20105 } else { 0 };
            let got = verify(&sign(&twilio_header(), &c, "s3cret"), &[key()], NOW)
                .err()
                .map_or(0, |e| e.code());
            assert_eq!(got, expected, "nbf {nbf}");
        }
        let mut other_sub = good.clone();
        other_sub["sub"] = Value::String(AccountSid::from_bytes([1; 16]).to_string());
        assert_eq!(
            code(&sign(&twilio_header(), &other_sub, "s3cret"), NOW),
            20103
        );
        let mut other_iss = good.clone();
        other_iss["iss"] = Value::String(ApiKeySid::from_bytes([1; 16]).to_string());
        assert_eq!(
            code(&sign(&twilio_header(), &other_iss, "s3cret"), NOW),
            20103
        );
        let no_video = claims(3600, serde_json::json!({"identity": "a"}));
        assert_eq!(
            code(&sign(&twilio_header(), &no_video, "s3cret"), NOW),
            20106
        );
        let no_identity = claims(3600, serde_json::json!({"video": {}}));
        assert_eq!(
            code(&sign(&twilio_header(), &no_identity, "s3cret"), NOW),
            20106
        );
        let long = claims(
            3600,
            serde_json::json!({"identity": "x".repeat(129), "video": {}}),
        );
        assert_eq!(code(&sign(&twilio_header(), &long, "s3cret"), NOW), 53201);
        let hs512 = Header {
            alg: Algorithm::HS512,
            ..twilio_header()
        };
        assert!(
            verify(&sign(&hs512, &good, "s3cret"), &[key()], NOW).is_ok(),
            "twilio-node may sign with HS512"
        );
    }
}
