//! Transmitter configuration metadata (SSF §7) and the provider's JWKS.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::ApiState;
use super::auth::PathProvider;
use super::error::{ApiError, ErrorBody};
use crate::providers;
use crate::signing_keys;
use crate::streams::delivery;

/// Where receivers find the configuration of `issuer` (SSF §7.2): `/.well-known/ssf-configuration`
/// inserted between host and path, any terminating `/` of the path removed. Built from the
/// issuer's text so it stays byte-identical (no URL normalisation).
pub fn configuration_url(issuer: &str) -> String {
    let (origin, path) = split_origin(issuer);
    format!(
        "{origin}/.well-known/ssf-configuration{}",
        path.trim_end_matches('/')
    )
}

/// `https://host:443/a/b` → (`https://host:443`, `/a/b`).
fn split_origin(url: &str) -> (&str, &str) {
    let after_scheme = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[after_scheme..].find('/') {
        Some(slash) => url.split_at(after_scheme + slash),
        None => (url, ""),
    }
}

/// The path of an issuer's endpoint (`{issuer}/streams` → `/…/streams`).
fn path_of(url: &str) -> &str {
    split_origin(url).1
}

/// SSF §7.1 transmitter configuration metadata.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TransmitterConfiguration {
    pub spec_version: &'static str,
    pub issuer: String,
    pub jwks_uri: String,
    pub delivery_methods_supported: Vec<&'static str>,
    pub configuration_endpoint: String,
    pub status_endpoint: String,
    pub add_subject_endpoint: String,
    pub remove_subject_endpoint: String,
    pub verification_endpoint: String,
    pub authorization_schemes: Vec<AuthorizationScheme>,
    #[schema(value_type = String, example = "ALL")]
    pub default_subjects: ssf_entities::DefaultSubjects,
}

/// SSF §7.1.1 authorization scheme.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthorizationScheme {
    pub spec_urn: &'static str,
}

impl TransmitterConfiguration {
    pub fn of(provider: &providers::Model) -> Self {
        let issuer = &provider.issuer;
        Self {
            spec_version: "1_0",
            issuer: issuer.clone(),
            jwks_uri: format!("{issuer}/jwks.json"),
            delivery_methods_supported: delivery::ADVERTISED.to_vec(),
            configuration_endpoint: format!("{issuer}/streams"),
            status_endpoint: format!("{issuer}/status"),
            add_subject_endpoint: format!("{issuer}/subjects:add"),
            remove_subject_endpoint: format!("{issuer}/subjects:remove"),
            verification_endpoint: format!("{issuer}/verify"),
            authorization_schemes: vec![AuthorizationScheme {
                spec_urn: "urn:ietf:rfc:6749",
            }],
            default_subjects: provider.default_subjects,
        }
    }
}

/// The provider whose well-known path is exactly this request's path.
pub(super) struct DiscoveredProvider(providers::Model);

impl FromRequestParts<ApiState> for DiscoveredProvider {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let not_found = || ApiError::not_found("no transmitter configuration here");
        let request_path = parts.uri.path().to_owned();
        let issuer_path = request_path
            .strip_prefix("/.well-known/ssf-configuration")
            .ok_or_else(not_found)?;
        // The last two segments name the provider: `…/ssf/{slug}`.
        let mut segments = issuer_path.trim_end_matches('/').rsplit('/');
        let (Some(slug), Some("ssf")) = (segments.next(), segments.next()) else {
            return Err(not_found());
        };
        let provider = providers::find_by_slug(&state.transmitter.db().orm, slug)
            .await?
            .ok_or_else(not_found)?;
        if path_of(&configuration_url(&provider.issuer)) != request_path.trim_end_matches('/') {
            return Err(not_found());
        }
        Ok(Self(provider))
    }
}

fn cacheable(mut response: Response, max_age_seconds: u32) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={max_age_seconds}")) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// SSF §7.2: the transmitter configuration of the provider whose issuer this path derives from.
#[utoipa::path(
    get,
    path = "/.well-known/ssf-configuration/ssf/{slug}",
    tag = "discovery",
    params(("slug" = String, Path, description = "The provider's slug (the last segment of its issuer)")),
    responses(
        (status = 200, description = "Transmitter configuration metadata", body = TransmitterConfiguration),
        (status = 404, description = "No such provider", body = ErrorBody),
    )
)]
pub(super) async fn configuration(DiscoveredProvider(provider): DiscoveredProvider) -> Response {
    cacheable(
        Json(TransmitterConfiguration::of(&provider)).into_response(),
        300,
    )
}

/// The provider's signing keys: the active key and retiring keys still in their grace period.
#[utoipa::path(
    get,
    path = "/ssf/{slug}/jwks.json",
    tag = "discovery",
    params(("slug" = String, Path, description = "The provider's slug")),
    responses(
        (status = 200, description = "JSON Web Key Set (RFC 7517)", body = Object),
        (status = 404, description = "No such provider", body = ErrorBody),
    )
)]
pub(super) async fn jwks(
    State(state): State<ApiState>,
    PathProvider(provider): PathProvider,
) -> Result<Response, ApiError> {
    let jwks = signing_keys::jwks(&state.transmitter.db().orm, &provider.id).await?;
    Ok(cacheable(Json(jwks).into_response(), 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_url_is_inserted_between_host_and_path() {
        assert_eq!(
            configuration_url("https://tr.example.com"),
            "https://tr.example.com/.well-known/ssf-configuration"
        );
        assert_eq!(
            configuration_url("https://tr.example.com/"),
            "https://tr.example.com/.well-known/ssf-configuration"
        );
        assert_eq!(
            configuration_url("https://tr.example.com/issuer1"),
            "https://tr.example.com/.well-known/ssf-configuration/issuer1"
        );
        assert_eq!(
            configuration_url("https://idp.example.com:443/ssf/acme/"),
            "https://idp.example.com:443/.well-known/ssf-configuration/ssf/acme"
        );
    }
}
