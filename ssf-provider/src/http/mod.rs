//! The SSF API over HTTP: discovery, JWKS, and the stream management and poll endpoints of
//! every provider, keyed by the provider's slug in the path.
//!
//! | route | purpose |
//! |---|---|
//! | `GET /.well-known/ssf-configuration{prefix}/ssf/{slug}` | SSF §7 configuration |
//! | `GET /ssf/{slug}/jwks.json` | signing keys |
//! | `POST GET PATCH PUT DELETE /ssf/{slug}/streams` | SSF §8.1.1 configuration endpoint |
//! | `GET POST /ssf/{slug}/status` | SSF §8.1.2 status |
//! | `POST /ssf/{slug}/subjects:add`, `/subjects:remove` | SSF §8.1.3 subjects |
//! | `POST /ssf/{slug}/verify` | SSF §8.1.4 verification |
//! | `POST /ssf/{slug}/poll/{stream_id}` | RFC 8936 poll |
//! | `GET /openapi.json` | this API as OpenAPI 3 |
//!
//! `{prefix}` is the path of the configured public URL (empty for `https://idp.example.com`):
//! issuers are `{public_url}/ssf/{slug}`, and a reverse proxy that serves the transmitter under
//! that path strips it from everything but the well-known URL, which lives at the host's root.
//!
//! Every error is JSON ([`error::ApiError`]); bodies are limited to
//! [`json::BODY_LIMIT_BYTES`]; each request is bounded in time; management responses carry
//! `Cache-Control: no-store`.

pub mod admin;
pub mod admin_ui;
pub mod auth;
pub mod discovery;
pub mod error;
pub mod json;
pub mod openapi;
mod poll;
mod status;
mod streams;
mod subjects;
mod verification;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::transmitter::Transmitter;
use auth::{AccessTokenVerifier, SharedVerifier};
use error::ApiError;

/// Time a request may take beyond the longest long poll.
const REQUEST_TIME_MARGIN: Duration = Duration::from_secs(15);

/// State shared by the SSF handlers.
#[derive(Clone)]
pub struct ApiState {
    pub transmitter: Transmitter,
    verifier: Option<SharedVerifier>,
}

/// Builds the SSF API router, optionally accepting the embedding IdP's own access tokens.
pub struct SsfApi {
    state: ApiState,
}

impl SsfApi {
    pub fn new(transmitter: Transmitter) -> Self {
        Self {
            state: ApiState {
                transmitter,
                verifier: None,
            },
        }
    }

    /// Accept the IdP's OAuth access tokens besides receiver tokens.
    pub fn access_token_verifier(mut self, verifier: Arc<dyn AccessTokenVerifier>) -> Self {
        self.state.verifier = Some(verifier);
        self
    }

    pub fn into_router(self) -> Router {
        let request_timeout = self.state.transmitter.settings().max_long_poll + REQUEST_TIME_MARGIN;
        let prefix = public_path_prefix(&self.state.transmitter.settings().public_url);
        let mut public = Router::new();
        let mut management = Router::new();
        for route in route_table() {
            let path = if route.path == DISCOVERY_PATH {
                format!("/.well-known/ssf-configuration{prefix}/ssf/{{slug}}")
            } else {
                route.path.to_owned()
            };
            let method_router = route.methods.fallback(method_not_allowed);
            if route.management {
                management = management.route(&path, method_router);
            } else {
                public = public.route(&path, method_router);
            }
        }
        let management = management.layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
        public
            .merge(management)
            .layer(DefaultBodyLimit::max(json::BODY_LIMIT_BYTES))
            .layer(middleware::from_fn_with_state(
                request_timeout,
                bounded_in_time,
            ))
            .with_state(self.state)
    }
}

/// The SSF API of every provider of `transmitter`, accepting receiver tokens.
pub fn router(transmitter: Transmitter) -> Router {
    SsfApi::new(transmitter).into_router()
}

/// A 404 in the API's JSON error format, for the program's fallback.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not support this method",
    )
}

async fn bounded_in_time(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            "the request took too long",
        )
        .into_response(),
    }
}

/// The path of the public URL without a trailing `/` (`https://h/sso/` → `/sso`).
fn public_path_prefix(public_url: &str) -> String {
    let after_scheme = public_url.find("://").map(|i| i + 3).unwrap_or(0);
    let path = public_url[after_scheme..]
        .find('/')
        .map(|i| &public_url[after_scheme + i..])
        .unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').to_owned()
}

/// The discovery route as documented (the router inserts the public URL's path prefix).
const DISCOVERY_PATH: &str = "/.well-known/ssf-configuration/ssf/{slug}";

struct Route {
    path: &'static str,
    methods: MethodRouter<ApiState>,
    /// The methods `methods` serves, for comparing the router with the OpenAPI document.
    served: &'static [Method],
    management: bool,
}

/// Every route of the SSF API: the router is built from this table, and
/// [`served_routes`] reports it.
fn route_table() -> Vec<Route> {
    vec![
        Route {
            path: DISCOVERY_PATH,
            methods: get(discovery::configuration),
            served: &[Method::GET],
            management: false,
        },
        Route {
            path: "/ssf/{slug}/jwks.json",
            methods: get(discovery::jwks),
            served: &[Method::GET],
            management: false,
        },
        Route {
            path: "/openapi.json",
            methods: get(openapi::document),
            served: &[Method::GET],
            management: false,
        },
        Route {
            path: "/ssf/{slug}/streams",
            methods: post(streams::create)
                .get(streams::read)
                .patch(streams::update)
                .put(streams::replace)
                .delete(streams::delete),
            served: &[
                Method::POST,
                Method::GET,
                Method::PATCH,
                Method::PUT,
                Method::DELETE,
            ],
            management: true,
        },
        Route {
            path: "/ssf/{slug}/status",
            methods: get(status::read).post(status::update),
            served: &[Method::GET, Method::POST],
            management: true,
        },
        Route {
            path: "/ssf/{slug}/subjects:add",
            methods: post(subjects::add),
            served: &[Method::POST],
            management: true,
        },
        Route {
            path: "/ssf/{slug}/subjects:remove",
            methods: post(subjects::remove),
            served: &[Method::POST],
            management: true,
        },
        Route {
            path: "/ssf/{slug}/verify",
            methods: post(verification::verify),
            served: &[Method::POST],
            management: true,
        },
        Route {
            path: "/ssf/{slug}/poll/{stream_id}",
            methods: post(poll::poll),
            served: &[Method::POST],
            management: true,
        },
    ]
}

/// Every `(method, path)` the router serves, paths as in the OpenAPI document.
pub fn served_routes() -> Vec<(Method, &'static str)> {
    route_table()
        .into_iter()
        .flat_map(|route| {
            route
                .served
                .iter()
                .map(move |method| (method.clone(), route.path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_the_public_urls_path() {
        assert_eq!(public_path_prefix("https://idp.example.com"), "");
        assert_eq!(public_path_prefix("https://idp.example.com:443/"), "");
        assert_eq!(public_path_prefix("https://idp.example.com/sso/"), "/sso");
        assert_eq!(public_path_prefix("http://127.0.0.1:8080/a/b"), "/a/b");
    }
}
