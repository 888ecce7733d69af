//! Provider configuration.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{AdminJson, AdminPath, AdminState, Caller};
use crate::admin::providers::{
    self, CreateProvider, DeletedProvider, ProviderChanges, ProviderView,
};
use crate::http::error::{ApiError, ErrorBody};

/// Creates a provider with a generated signing key, or with an imported one.
#[utoipa::path(
    post,
    path = "/admin/api/v1/providers",
    tag = "admin: providers",
    request_body = CreateProvider,
    responses(
        (status = 201, description = "The new provider; give its configuration_url to receivers", body = ProviderView),
        (status = 400, description = "A field is invalid (the description names it)", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 409, description = "The slug is taken (slugs of deleted providers stay taken)", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn create(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminJson(request): AdminJson<CreateProvider>,
) -> Result<(StatusCode, Json<ProviderView>), ApiError> {
    let transmitter = &state.transmitter;
    let view = providers::create(transmitter.db(), transmitter.settings(), &actor, request).await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// Lists the providers (deleted ones are left out).
#[utoipa::path(
    get,
    path = "/admin/api/v1/providers",
    tag = "admin: providers",
    responses(
        (status = 200, description = "Every provider, oldest first", body = [ProviderView]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn list(
    State(state): State<AdminState>,
) -> Result<Json<Vec<ProviderView>>, ApiError> {
    Ok(Json(providers::list(&state.transmitter.db().orm).await?))
}

/// Reads one provider.
#[utoipa::path(
    get,
    path = "/admin/api/v1/providers/{id}",
    tag = "admin: providers",
    params(("id" = String, Path, description = "The provider's id")),
    responses(
        (status = 200, description = "The provider", body = ProviderView),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn show(
    State(state): State<AdminState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(
        providers::get(&state.transmitter.db().orm, &id).await?,
    ))
}

/// Changes a provider's settings; members left out stay as they are. A new `signing_alg`
/// rotates the signing key.
#[utoipa::path(
    patch,
    path = "/admin/api/v1/providers/{id}",
    tag = "admin: providers",
    params(("id" = String, Path, description = "The provider's id")),
    request_body = ProviderChanges,
    responses(
        (status = 200, description = "The provider as changed", body = ProviderView),
        (status = 400, description = "A field is invalid or cannot change (the description names it)", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn update(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(id): AdminPath<String>,
    AdminJson(changes): AdminJson<ProviderChanges>,
) -> Result<Json<ProviderView>, ApiError> {
    Ok(Json(
        providers::update(state.transmitter.db(), &actor, &id, changes).await?,
    ))
}

/// Deletes a provider: its streams are disabled (undelivered SETs expire), its receivers
/// revoked, its discovery document and JWKS taken offline. Its slug is never reused.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/providers/{id}",
    tag = "admin: providers",
    params(("id" = String, Path, description = "The provider's id")),
    responses(
        (status = 200, description = "What the deletion did", body = DeletedProvider),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn delete(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<DeletedProvider>, ApiError> {
    Ok(Json(
        providers::delete(state.transmitter.db(), &actor, &id).await?,
    ))
}
