//! The admin API at `/admin/api/v1`: what an IdP's admin UI calls to configure providers,
//! their receivers and keys, and what an operator uses when a receiver misbehaves. JSON in and
//! out, errors in the SSF API's format ([`ApiError`]), every route behind one bearer token.
//!
//! | route | purpose |
//! |---|---|
//! | `POST GET /providers`, `GET PATCH DELETE /providers/{id}` | provider configuration |
//! | `POST GET /providers/{id}/receivers`, `DELETE …/{receiver_id}`, `POST …/{receiver_id}/token` | receivers and their tokens |
//! | `GET /providers/{id}/keys`, `POST /providers/{id}/keys/rotate` | signing keys |
//! | `POST /providers/{id}/events` | emit an IdP event |
//! | `GET /providers/{id}/streams`, `GET PATCH /streams/{stream_id}` | streams, counts, status |
//! | `GET /streams/{stream_id}/events`, `GET …/events/{jti}/attempts` | the delivery log |
//! | `POST …/events/{jti}/retry`, `POST /streams/{stream_id}/retry-failed` | redrive |
//! | `GET /stats` | delivery rate per minute |
//!
//! The token is compared in constant time (SHA-256 digests, `openssl::memcmp::eq`), before any
//! body is read or id looked up. A caller acting for a person may name them in the
//! `X-SSF-Actor` header; it is recorded in the audit lines, not authenticated. Handlers are
//! thin: the work and the audit trail are in [`crate::admin`], shared with the command line.

mod events;
mod keys;
pub mod openapi;
mod providers;
mod receivers;
mod stats;
mod streams;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use serde::de::DeserializeOwned;
use tower_http::set_header::SetResponseHeaderLayer;

use super::error::ApiError;
use super::json::BODY_LIMIT_BYTES;
use crate::admin::{Actor, AdminError};
use crate::dispatch::DispatchError;
use crate::transmitter::Transmitter;

/// Where the admin API is mounted.
pub const PREFIX: &str = "/admin/api/v1";
/// Optional request header naming the person an admin UI acts for (audit only).
pub const ACTOR_HEADER: &str = "x-ssf-actor";
/// No admin request needs longer; a stuck database answers 503 instead of hanging the caller.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The admin API's bearer token, kept as its SHA-256 digest so comparisons take the same time
/// whatever the presented token shares with it. An empty token accepts nothing.
pub struct AdminToken {
    digest: Option<[u8; 32]>,
}

impl AdminToken {
    pub fn new(token: &str) -> Self {
        if token.is_empty() {
            tracing::warn!("the admin token is empty: the admin API refuses every request");
            return Self { digest: None };
        }
        Self {
            digest: Some(openssl::sha::sha256(token.as_bytes())),
        }
    }

    /// Whether `presented` is the token.
    pub fn accepts(&self, presented: &str) -> bool {
        let Some(digest) = &self.digest else {
            return false;
        };
        openssl::memcmp::eq(digest, &openssl::sha::sha256(presented.as_bytes()))
    }
}

impl From<String> for AdminToken {
    fn from(token: String) -> Self {
        Self::new(&token)
    }
}

impl From<&str> for AdminToken {
    fn from(token: &str) -> Self {
        Self::new(token)
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// State of the admin handlers.
#[derive(Clone)]
struct AdminState {
    transmitter: Transmitter,
    token: Arc<AdminToken>,
}

/// The admin API of `transmitter`, mounted at [`PREFIX`], accepting `admin_token`.
pub fn router(transmitter: Transmitter, admin_token: impl Into<AdminToken>) -> Router {
    let state = AdminState {
        transmitter,
        token: Arc::new(admin_token.into()),
    };
    let mut api = Router::new();
    for route in route_table() {
        api = api.route(route.path, route.methods.fallback(method_not_allowed));
    }
    let api = api
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(middleware::from_fn(bounded_in_time))
        .with_state(state);
    Router::new().nest(PREFIX, api)
}

struct Route {
    /// Relative to [`PREFIX`].
    path: &'static str,
    methods: MethodRouter<AdminState>,
    /// The methods `methods` serves, for comparing the router with the OpenAPI document.
    served: &'static [Method],
}

/// Every admin route: the router is built from this table and [`served_routes`] reports it.
fn route_table() -> Vec<Route> {
    vec![
        Route {
            path: "/providers",
            methods: post(providers::create).get(providers::list),
            served: &[Method::POST, Method::GET],
        },
        Route {
            path: "/providers/{id}",
            methods: get(providers::show)
                .patch(providers::update)
                .delete(providers::delete),
            served: &[Method::GET, Method::PATCH, Method::DELETE],
        },
        Route {
            path: "/providers/{id}/receivers",
            methods: post(receivers::create).get(receivers::list),
            served: &[Method::POST, Method::GET],
        },
        Route {
            path: "/providers/{id}/receivers/{receiver_id}",
            methods: axum::routing::delete(receivers::revoke),
            served: &[Method::DELETE],
        },
        Route {
            path: "/providers/{id}/receivers/{receiver_id}/token",
            methods: post(receivers::rotate_token),
            served: &[Method::POST],
        },
        Route {
            path: "/providers/{id}/keys",
            methods: get(keys::list),
            served: &[Method::GET],
        },
        Route {
            path: "/providers/{id}/keys/rotate",
            methods: post(keys::rotate),
            served: &[Method::POST],
        },
        Route {
            path: "/providers/{id}/events",
            methods: post(events::emit),
            served: &[Method::POST],
        },
        Route {
            path: "/providers/{id}/streams",
            methods: get(streams::list),
            served: &[Method::GET],
        },
        Route {
            path: "/streams/{stream_id}",
            methods: get(streams::show).patch(streams::change_status),
            served: &[Method::GET, Method::PATCH],
        },
        Route {
            path: "/streams/{stream_id}/events",
            methods: get(events::list),
            served: &[Method::GET],
        },
        Route {
            path: "/streams/{stream_id}/events/{jti}/attempts",
            methods: get(events::attempts),
            served: &[Method::GET],
        },
        Route {
            path: "/streams/{stream_id}/events/{jti}/retry",
            methods: post(events::retry),
            served: &[Method::POST],
        },
        Route {
            path: "/streams/{stream_id}/retry-failed",
            methods: post(streams::retry_failed),
            served: &[Method::POST],
        },
        Route {
            path: "/stats",
            methods: get(stats::stats),
            served: &[Method::GET],
        },
    ]
}

/// Every `(method, path)` the admin router serves, paths as in the OpenAPI document.
pub fn served_routes() -> Vec<(Method, String)> {
    route_table()
        .into_iter()
        .flat_map(|route| {
            route
                .served
                .iter()
                .map(move |method| (method.clone(), format!("{PREFIX}{}", route.path)))
        })
        .collect()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not support this method",
    )
}

async fn bounded_in_time(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        )
        .into_response(),
    }
}

/// The token of an `Authorization: Bearer` header; the scheme is case-insensitive.
fn bearer_token(parts: &Request) -> Option<&str> {
    let value = parts.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Lets the request through with its [`Actor`] when it carries the admin token; 401 otherwise.
async fn require_admin(
    State(state): State<AdminState>,
    mut request: Request,
    next: Next,
) -> Response {
    match bearer_token(&request) {
        None => {
            return ApiError::unauthorized(
                false,
                "an Authorization: Bearer admin token is required",
            )
            .into_response();
        }
        Some(token) if !state.token.accepts(token) => {
            tracing::warn!(target: "ssf::audit", path = %request.uri().path(), "admin request with a wrong token refused");
            return ApiError::unauthorized(true, "the admin token is not valid").into_response();
        }
        Some(_) => {}
    }
    let on_behalf_of = request
        .headers()
        .get(ACTOR_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    request
        .extensions_mut()
        .insert(Actor::api(on_behalf_of.as_deref()));
    next.run(request).await
}

/// The actor the authentication layer recorded.
struct Caller(Actor);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Actor>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::internal(&"admin route reached without authentication"))
    }
}

/// Path parameters, rejected in the API's error format.
struct AdminPath<T>(T);

impl<T, S> FromRequestParts<S> for AdminPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|path| AdminPath(path.0))
            .map_err(|e| ApiError::invalid_request(format!("invalid path: {}", e.body_text())))
    }
}

/// A JSON body whose errors name the offending member (`signing_alg: unknown variant ...`).
struct AdminJson<T>(T);

/// Like [`AdminJson`], but an empty body reads as `T::default()`.
struct OptionalAdminJson<T>(T);

async fn body_of<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large(BODY_LIMIT_BYTES)
            } else {
                ApiError::bad_request("invalid_body", "the request body could not be read")
            }
        })
}

fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    use serde_json::error::Category;
    let syntax = |e: serde_json::Error| {
        ApiError::bad_request(
            "invalid_json",
            format!("the request body is not valid JSON: {e}"),
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data if path == "." => {
                ApiError::invalid_request(format!("invalid request body: {inner}"))
            }
            Category::Data => ApiError::invalid_request(format!("{path}: {inner}")),
            Category::Syntax | Category::Eof | Category::Io => syntax(inner),
        }
    })?;
    // Trailing bytes after the JSON value are an error, as for any JSON document.
    deserializer.end().map_err(syntax)?;
    Ok(value)
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_of(request, state).await?;
        parse_body(&bytes).map(AdminJson)
    }
}

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalAdminJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = body_of(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalAdminJson(T::default()));
        }
        parse_body(&bytes).map(OptionalAdminJson)
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::Invalid { .. } => Self::invalid_request(e.to_string()),
            AdminError::NotFound(what) => Self::not_found(format!("no such {what}")),
            AdminError::Conflict { code, description } => Self::conflict(code, description),
            AdminError::Provider(e) => e.into(),
            AdminError::Receiver(e) => e.into(),
            AdminError::SigningKey(e) => e.into(),
            AdminError::Stream(e) => e.into(),
            AdminError::Dispatch(
                DispatchError::UnknownProvider(_) | DispatchError::ProviderDeleted(_),
            ) => Self::not_found("no such provider"),
            // Both come from the event the caller sent (a blank field, a subject that cannot be built).
            AdminError::Dispatch(DispatchError::InvalidEvent(e)) => {
                Self::bad_request("invalid_event", e.to_string())
            }
            AdminError::Dispatch(DispatchError::Set(e)) => {
                Self::bad_request("invalid_event", e.to_string())
            }
            AdminError::Dispatch(DispatchError::Db(e)) | AdminError::Db(e) => Self::internal(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_accepted_exactly() {
        let token = AdminToken::new("s3cret-admin-token");
        assert!(token.accepts("s3cret-admin-token"));
        assert!(!token.accepts("s3cret-admin-toke"));
        assert!(!token.accepts("s3cret-admin-token "));
        assert!(!token.accepts(""));
        assert!(!AdminToken::new("").accepts(""));
        assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
    }

    async fn description_of(error: ApiError) -> String {
        let body = axum::body::to_bytes(error.into_response().into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        body["description"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn body_errors_name_the_member() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Body {
            alg: ssf_entities::SigningAlg,
            nested: Option<Vec<u8>>,
        }
        let error = parse_body::<Body>(br#"{"alg": "HS256"}"#).unwrap_err();
        assert_eq!(error.code(), "invalid_request");
        assert!(
            description_of(error)
                .await
                .starts_with("alg: unknown variant `HS256`")
        );
        let error = parse_body::<Body>(br#"{"alg": "RS256", "nested": [1, -1]}"#).unwrap_err();
        assert!(description_of(error).await.starts_with("nested[1]:"));
        let error = parse_body::<Body>(br#"{"alg": "RS256"} trailing"#).unwrap_err();
        assert_eq!(error.code(), "invalid_json");
        assert!(parse_body::<Body>(br#"{"alg": "RS256"}"#).is_ok());
    }
}
