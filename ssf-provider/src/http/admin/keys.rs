//! A provider's signing keys.

use axum::Json;
use axum::extract::State;

use super::{AdminPath, AdminState, Caller, OptionalAdminJson};
use crate::admin::keys::{self, KeyView, RotateKey};
use crate::http::error::{ApiError, ErrorBody};

/// Lists a provider's signing keys, newest first: key ids, algorithms, states and dates.
#[utoipa::path(
    get,
    path = "/admin/api/v1/providers/{id}/keys",
    tag = "admin: keys",
    params(("id" = String, Path, description = "The provider's id")),
    responses(
        (status = 200, description = "The keys (never private material)", body = [KeyView]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn list(
    State(state): State<AdminState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    Ok(Json(keys::list(&state.transmitter.db().orm, &id).await?))
}

/// Rotates the signing key: a new key signs from now on; the old one stays in the JWKS as
/// retiring for the grace period. The body is optional.
#[utoipa::path(
    post,
    path = "/admin/api/v1/providers/{id}/keys/rotate",
    tag = "admin: keys",
    params(("id" = String, Path, description = "The provider's id")),
    request_body(content = Option<RotateKey>, description = "Optional; an empty body uses the defaults"),
    responses(
        (status = 200, description = "Every key after the rotation, the new one first", body = [KeyView]),
        (status = 400, description = "Invalid grace period", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn rotate(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(id): AdminPath<String>,
    OptionalAdminJson(request): OptionalAdminJson<RotateKey>,
) -> Result<Json<Vec<KeyView>>, ApiError> {
    Ok(Json(
        keys::rotate(state.transmitter.db(), &actor, &id, request).await?,
    ))
}
