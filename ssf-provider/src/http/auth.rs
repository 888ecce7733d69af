//! Receiver authentication: `Authorization: Bearer <token>` (RFC 6750 §2.1 only; a token in
//! the query string is not looked at).
//!
//! A token is either a receiver token of the provider named in the path (full access to that
//! receiver's streams) or, when the embedding IdP installed an [`AccessTokenVerifier`], one of
//! the IdP's own OAuth access tokens, limited by the scopes of the CAEP interoperability
//! profile: `ssf.read` for reads and poll, `ssf.manage` for changes.
//!
//! The [`Authenticated`] extractor runs before any body is read or stream looked up, so a bad
//! token is a 401 whatever else is wrong with the request.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::ApiState;
use super::error::ApiError;
use crate::providers;
use crate::receivers;
use crate::streams::Caller;

/// Scope of reads (configuration, status) and poll.
pub const SCOPE_READ: &str = "ssf.read";
/// Scope of every change.
pub const SCOPE_MANAGE: &str = "ssf.manage";
const SCOPE_MANAGE_POLL: &str = "ssf.manage.poll";

/// What a request needs to be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Manage,
    Poll,
}

/// An OAuth access token the embedding IdP vouches for.
#[derive(Debug, Clone)]
pub struct ExternalGrant {
    /// The OAuth client the token was issued to; it owns the streams it creates.
    pub client_id: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

/// Why the IdP could not check a token (not: "the token is invalid", which is `Ok(None)`).
pub type VerifierError = Box<dyn std::error::Error + Send + Sync>;

/// Lets the embedding IdP accept its own OAuth access tokens on the SSF API (as authentik
/// accepts tokens of OIDC providers linked to its SSF provider).
#[async_trait::async_trait]
pub trait AccessTokenVerifier: Send + Sync + 'static {
    /// Checks `token`'s validity, integrity, expiry and revocation, and that it was issued
    /// for use with `provider`. `Ok(None)` rejects the token (401).
    async fn verify(
        &self,
        provider: &providers::Model,
        token: &str,
    ) -> Result<Option<ExternalGrant>, VerifierError>;
}

/// How the caller proved who it is.
#[derive(Debug, Clone)]
enum Credential {
    Receiver,
    External { scopes: Vec<String> },
}

/// An authenticated request on one provider.
#[derive(Debug, Clone)]
pub struct Authenticated {
    caller: Caller,
    credential: Credential,
}

impl Authenticated {
    /// The caller, if its credential allows `access`; otherwise 403 `insufficient_scope`.
    pub fn require(&self, access: Access) -> Result<&Caller, ApiError> {
        let Credential::External { scopes } = &self.credential else {
            return Ok(&self.caller);
        };
        let has = |scope: &str| scopes.iter().any(|s| s == scope);
        let allowed = match access {
            Access::Read => has(SCOPE_READ) || has(SCOPE_MANAGE),
            Access::Manage => has(SCOPE_MANAGE),
            Access::Poll => has(SCOPE_READ) || has(SCOPE_MANAGE) || has(SCOPE_MANAGE_POLL),
        };
        if allowed {
            Ok(&self.caller)
        } else {
            Err(ApiError::insufficient_scope(if access == Access::Manage {
                SCOPE_MANAGE
            } else {
                SCOPE_READ
            }))
        }
    }
}

/// The token of an `Authorization: Bearer` header; the scheme is case-insensitive.
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The provider named by the `slug` path parameter; 404 when there is none.
async fn provider_of(parts: &mut Parts, state: &ApiState) -> Result<providers::Model, ApiError> {
    let params = RawPathParams::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::not_found("no such provider"))?;
    let slug = params
        .iter()
        .find(|(name, _)| *name == "slug")
        .map(|(_, value)| value.to_owned())
        .ok_or_else(|| ApiError::not_found("no such provider"))?;
    providers::find_by_slug(&state.transmitter.db().orm, &slug)
        .await?
        .ok_or_else(|| ApiError::not_found("no such provider"))
}

/// The provider named in the request path, for endpoints anyone may read.
pub struct PathProvider(pub providers::Model);

impl FromRequestParts<ApiState> for PathProvider {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        provider_of(parts, state).await.map(PathProvider)
    }
}

impl FromRequestParts<ApiState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &ApiState,
    ) -> Result<Self, Self::Rejection> {
        let provider = provider_of(parts, state).await?;
        let Some(token) = bearer_token(parts).map(str::to_owned) else {
            return Err(ApiError::unauthorized(
                false,
                "an Authorization: Bearer token is required",
            ));
        };
        let invalid = || {
            ApiError::unauthorized(
                true,
                "the access token is invalid, revoked or not for this provider",
            )
        };
        if let Some(receiver) = receivers::authenticate(&state.transmitter.db().orm, &token).await?
        {
            if receiver.provider_id != provider.id {
                return Err(invalid());
            }
            let caller = Caller {
                provider,
                owner: receiver.id.clone(),
                receiver_id: Some(receiver.id.clone()),
                default_audience: receiver.id,
            };
            return Ok(Self {
                caller,
                credential: Credential::Receiver,
            });
        }
        let Some(verifier) = &state.verifier else {
            return Err(invalid());
        };
        let grant = verifier
            .verify(&provider, &token)
            .await
            .map_err(|e| ApiError::internal(&format!("access token verifier failed: {e}")))?
            .ok_or_else(invalid)?;
        let caller = Caller {
            provider,
            owner: format!("oauth:{}", grant.client_id),
            receiver_id: None,
            default_audience: grant.client_id,
        };
        Ok(Self {
            caller,
            credential: Credential::External {
                scopes: grant.scopes,
            },
        })
    }
}

/// Shared handle to an installed verifier.
pub type SharedVerifier = Arc<dyn AccessTokenVerifier>;

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_with(header: Option<&str>) -> Parts {
        let mut builder = axum::http::Request::builder().uri("/x");
        if let Some(value) = header {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_tokens_are_read_from_the_header_only() {
        assert_eq!(bearer_token(&parts_with(Some("Bearer abc"))), Some("abc"));
        assert_eq!(bearer_token(&parts_with(Some("bearer  abc "))), Some("abc"));
        assert_eq!(bearer_token(&parts_with(Some("Basic abc"))), None);
        assert_eq!(bearer_token(&parts_with(Some("Bearer "))), None);
        assert_eq!(bearer_token(&parts_with(None)), None);
    }

    fn external(scopes: &[&str]) -> Authenticated {
        let provider = providers::Model {
            id: "p".into(),
            slug: "p".into(),
            name: "p".into(),
            issuer: "https://t/ssf/p".into(),
            signing_alg: ssf_entities::SigningAlg::RS256,
            event_retention_seconds: 1,
            default_subjects: ssf_entities::DefaultSubjects::All,
            subject_format: ssf_entities::SubjectFormat::Email,
            idp_issuer: None,
            verify_tls: true,
            min_verification_interval_seconds: 0,
            inactivity_timeout_seconds: None,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
        };
        Authenticated {
            caller: Caller {
                provider,
                owner: "oauth:c".into(),
                receiver_id: None,
                default_audience: "c".into(),
            },
            credential: Credential::External {
                scopes: scopes.iter().map(|s| s.to_string()).collect(),
            },
        }
    }

    #[test]
    fn scopes_gate_reads_changes_and_poll() {
        let read = external(&[SCOPE_READ]);
        assert!(read.require(Access::Read).is_ok());
        assert!(read.require(Access::Poll).is_ok());
        assert_eq!(
            read.require(Access::Manage).unwrap_err().code(),
            "insufficient_scope"
        );
        let manage = external(&[SCOPE_MANAGE]);
        assert!(manage.require(Access::Manage).is_ok() && manage.require(Access::Read).is_ok());
        let none = external(&["openid"]);
        assert_eq!(
            none.require(Access::Read).unwrap_err().status(),
            axum::http::StatusCode::FORBIDDEN
        );
        assert!(external(&[SCOPE_MANAGE_POLL]).require(Access::Poll).is_ok());
    }
}
