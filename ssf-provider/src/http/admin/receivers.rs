//! A provider's receivers and their bearer tokens.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::{AdminJson, AdminPath, AdminState, Caller};
use crate::admin::receivers::{
    self, CreateReceiver, ReceiverView, ReceiverWithToken, RevokedReceiver,
};
use crate::http::error::{ApiError, ErrorBody};

/// Creates a receiver. The response holds its bearer token: the only time it is shown.
#[utoipa::path(
    post,
    path = "/admin/api/v1/providers/{id}/receivers",
    tag = "admin: receivers",
    params(("id" = String, Path, description = "The provider's id")),
    request_body = CreateReceiver,
    responses(
        (status = 201, description = "The receiver with its token", body = ReceiverWithToken),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn create(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(id): AdminPath<String>,
    AdminJson(request): AdminJson<CreateReceiver>,
) -> Result<(StatusCode, Json<ReceiverWithToken>), ApiError> {
    let created = receivers::create(&state.transmitter.db().orm, &actor, &id, request).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists a provider's receivers, revoked ones included; never a token.
#[utoipa::path(
    get,
    path = "/admin/api/v1/providers/{id}/receivers",
    tag = "admin: receivers",
    params(("id" = String, Path, description = "The provider's id")),
    responses(
        (status = 200, description = "The receivers, oldest first", body = [ReceiverView]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn list(
    State(state): State<AdminState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<Vec<ReceiverView>>, ApiError> {
    Ok(Json(
        receivers::list(&state.transmitter.db().orm, &id).await?,
    ))
}

/// Revokes a receiver: its token stops working at once and its streams are disabled.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/providers/{id}/receivers/{receiver_id}",
    tag = "admin: receivers",
    params(
        ("id" = String, Path, description = "The provider's id"),
        ("receiver_id" = String, Path, description = "The receiver's id"),
    ),
    responses(
        (status = 200, description = "Revoked", body = RevokedReceiver),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider or receiver", body = ErrorBody),
        (status = 409, description = "Already revoked", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn revoke(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath((id, receiver_id)): AdminPath<(String, String)>,
) -> Result<Json<RevokedReceiver>, ApiError> {
    Ok(Json(
        receivers::revoke(&state.transmitter, &actor, &id, &receiver_id).await?,
    ))
}

/// Issues a new token for a receiver; the old one stops working at once.
#[utoipa::path(
    post,
    path = "/admin/api/v1/providers/{id}/receivers/{receiver_id}/token",
    tag = "admin: receivers",
    params(
        ("id" = String, Path, description = "The provider's id"),
        ("receiver_id" = String, Path, description = "The receiver's id"),
    ),
    responses(
        (status = 200, description = "The receiver with its new token (shown once)", body = ReceiverWithToken),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider or receiver", body = ErrorBody),
        (status = 409, description = "The receiver is revoked", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn rotate_token(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath((id, receiver_id)): AdminPath<(String, String)>,
) -> Result<Json<ReceiverWithToken>, ApiError> {
    Ok(Json(
        receivers::rotate_token(&state.transmitter.db().orm, &actor, &id, &receiver_id).await?,
    ))
}
