//! The one mapping from failures to HTTP responses.
//!
//! Every error response is JSON `{"error": "<stable code>", "description": "<for humans>"}` with
//! `Cache-Control: no-store`. Codes are part of the API: clients may branch on them. Internal
//! failures are logged here with their cause and answered with a generic 500, so no database
//! detail or secret reaches a client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::providers::ProviderError;
use crate::receivers::ReceiverError;
use crate::signing_keys::SigningKeyError;
use crate::streams::StreamError;

/// An API failure: status, stable code and description, plus the headers some statuses need.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: String,
    www_authenticate: Option<String>,
    retry_after_seconds: Option<u64>,
}

/// The JSON body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `invalid_request`, `invalid_token`, `not_found`.
    pub error: String,
    /// Human-readable explanation.
    pub description: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            www_authenticate: None,
            retry_after_seconds: None,
        }
    }

    /// 400 with a specific code.
    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::bad_request("invalid_request", description)
    }

    /// 401 with an RFC 6750 challenge; `error` is omitted from the challenge when no token was sent.
    pub fn unauthorized(token_present: bool, description: impl Into<String>) -> Self {
        let challenge = if token_present {
            r#"Bearer error="invalid_token""#.to_owned()
        } else {
            "Bearer".to_owned()
        };
        Self {
            www_authenticate: Some(challenge),
            ..Self::new(
                StatusCode::UNAUTHORIZED,
                if token_present {
                    "invalid_token"
                } else {
                    "missing_token"
                },
                description,
            )
        }
    }

    /// 403 `insufficient_scope` (RFC 6750 §3.1), naming the scope that would do.
    pub fn insufficient_scope(scope: &str) -> Self {
        Self {
            www_authenticate: Some(format!(
                r#"Bearer error="insufficient_scope", scope="{scope}""#
            )),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                format!("this request needs the scope {scope}"),
            )
        }
    }

    pub fn forbidden(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn conflict(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, description)
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body exceeds {limit_bytes} bytes"),
        )
    }

    pub fn too_many_requests(retry_after_seconds: u64, description: impl Into<String>) -> Self {
        Self {
            retry_after_seconds: Some(retry_after_seconds.max(1)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                description,
            )
        }
    }

    /// 500: logs the cause, tells the client nothing about it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the server could not complete the request",
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.to_owned(),
            description: self.description,
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self
            .www_authenticate
            .and_then(|c| HeaderValue::from_str(&c).ok())
        {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        Self::internal(&e)
    }
}

impl From<StreamError> for ApiError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::NotFound => {
                Self::not_found("no stream with this stream_id for this receiver")
            }
            StreamError::Invalid(description) => Self::invalid_request(description),
            StreamError::TransmitterSupplied(description) => {
                Self::bad_request("invalid_request", description)
            }
            StreamError::UnsupportedDelivery(description) => {
                Self::bad_request("unsupported_delivery_method", description)
            }
            StreamError::InvalidEndpoint(description) => {
                Self::bad_request("invalid_endpoint_url", description)
            }
            StreamError::Limit(description) => Self::conflict("limit_reached", description),
            StreamError::Disabled => {
                Self::bad_request("stream_disabled", "the stream is disabled; enable it first")
            }
            StreamError::NotPoll => Self::not_found("this stream is not delivered by poll"),
            StreamError::TooSoon {
                retry_after_seconds,
            } => Self::too_many_requests(
                retry_after_seconds,
                "verification was requested less than min_verification_interval ago",
            ),
            StreamError::SigningKey(e) => e.into(),
            StreamError::Set(e) => Self::internal(&e),
            StreamError::Dispatch(e) => Self::internal(&e),
            StreamError::Db(e) => Self::internal(&e),
        }
    }
}

impl From<SigningKeyError> for ApiError {
    fn from(e: SigningKeyError) -> Self {
        Self::internal(&e)
    }
}

impl From<ReceiverError> for ApiError {
    fn from(e: ReceiverError) -> Self {
        match e {
            ReceiverError::NotFound => Self::not_found("no such receiver"),
            other => Self::internal(&other),
        }
    }
}

impl From<ProviderError> for ApiError {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Invalid(description) => Self::invalid_request(description),
            ProviderError::SlugTaken(slug) => {
                Self::conflict("slug_taken", format!("the slug {slug:?} is already in use"))
            }
            ProviderError::SigningKey(e) => e.into(),
            ProviderError::Db(e) => Self::internal(&e),
        }
    }
}
