//! The status endpoint (SSF §8.1.2).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::ApiState;
use super::auth::{Access, Authenticated};
use super::error::{ApiError, ErrorBody};
use super::json::{ValidJson, ValidQuery};
use crate::streams::{self, status::StreamStatusBody};

/// `?stream_id=` (required).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RequiredStreamId {
    pub stream_id: String,
}

/// Reads a stream's status.
#[utoipa::path(
    get,
    path = "/ssf/{slug}/status",
    tag = "status",
    params(("slug" = String, Path, description = "The provider's slug"), RequiredStreamId),
    responses(
        (status = 200, description = "The stream's status", body = StreamStatusBody),
        (status = 400, description = "stream_id missing", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn read(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidQuery(query): ValidQuery<RequiredStreamId>,
) -> Result<Json<StreamStatusBody>, ApiError> {
    let caller = auth.require(Access::Read)?;
    let conn = &state.transmitter.db().orm;
    let stream = streams::find_owned(conn, caller, &query.stream_id).await?;
    streams::touch(conn, &stream.id).await?;
    Ok(Json(StreamStatusBody::of(&stream)))
}

/// Enables, pauses or disables a stream. Pausing holds new SETs; enabling releases them in
/// order; disabling drops undelivered SETs.
#[utoipa::path(
    post,
    path = "/ssf/{slug}/status",
    tag = "status",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = StreamStatusBody,
    responses(
        (status = 200, description = "The stream's new status", body = StreamStatusBody),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn update(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<StreamStatusBody>,
) -> Result<Json<StreamStatusBody>, ApiError> {
    let caller = auth.require(Access::Manage)?;
    let stream = streams::status::update_status(
        &state.transmitter,
        caller,
        &request.stream_id,
        request.status,
        request.reason,
    )
    .await?;
    Ok(Json(StreamStatusBody::of(&stream)))
}
