//! Request extractors that reject bad input with [`ApiError`] (JSON, 400/413) instead of
//! axum's plain-text rejections (415/422), so every API answers in one error format.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Largest request body any SSF or admin endpoint accepts.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// A JSON body deserialised into `T`. Any `Content-Type` is accepted (some receivers send none);
/// an unreadable, oversized, malformed or mistyped body is a JSON 400 (or 413).
#[derive(Debug, Clone)]
pub struct ValidJson<T>(pub T);

/// Like [`ValidJson`], but an empty body reads as `T::default()` (e.g. an RFC 8936 poll with
/// no parameters).
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

/// Query parameters deserialised into `T`, rejected as a JSON 400.
#[derive(Debug, Clone)]
pub struct ValidQuery<T>(pub T);

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(BODY_LIMIT_BYTES)
        } else {
            ApiError::bad_request("invalid_body", "the request body could not be read")
        }
    })
}

/// Parses `bytes` as `T`, describing what is wrong in terms a client can act on.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => ApiError::invalid_request(format!("invalid request body: {e}")),
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
                "invalid_json",
                format!("the request body is not valid JSON: {e}"),
            ),
        }
    })
}

impl<T, S> FromRequest<S> for ValidJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ValidJson)
    }
}

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

impl<T, S> FromRequestParts<S> for ValidQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::try_from_uri(&parts.uri)
            .map(|query| ValidQuery(query.0))
            .map_err(|e| {
                ApiError::invalid_request(format!("invalid query parameters: {}", e.body_text()))
            })
    }
}
