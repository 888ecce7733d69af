//! The configuration endpoint (SSF §8.1.1): create, read, update, replace and delete streams.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::ApiState;
use super::auth::{Access, Authenticated};
use super::error::{ApiError, ErrorBody};
use super::json::{ValidJson, ValidQuery};
use crate::streams::{self, StreamConfiguration, StreamRequest, UpdateMode};

/// `?stream_id=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamIdQuery {
    /// The stream; optional when reading (all of the caller's streams), required when deleting.
    pub stream_id: Option<String>,
}

/// Creates a stream. Without `delivery`, the stream is a poll stream whose `endpoint_url`
/// the transmitter assigns.
#[utoipa::path(
    post,
    path = "/ssf/{slug}/streams",
    tag = "streams",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = StreamRequest,
    responses(
        (status = 201, description = "The new stream's configuration", body = StreamConfiguration),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 403, description = "Insufficient scope", body = ErrorBody),
        (status = 409, description = "Too many streams for this receiver", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn create(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<StreamRequest>,
) -> Result<Response, ApiError> {
    let caller = auth.require(Access::Manage)?;
    let stream = streams::create(&state.transmitter, caller, request).await?;
    let configuration = streams::configuration(&caller.provider, &stream)?;
    Ok((StatusCode::CREATED, Json(configuration)).into_response())
}

/// Reads one stream (`?stream_id=`) or, without it, all of the caller's streams (an array).
#[utoipa::path(
    get,
    path = "/ssf/{slug}/streams",
    tag = "streams",
    params(("slug" = String, Path, description = "The provider's slug"), StreamIdQuery),
    responses(
        (status = 200, description = "One stream configuration, or an array of them without stream_id", body = StreamConfiguration),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn read(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidQuery(query): ValidQuery<StreamIdQuery>,
) -> Result<Response, ApiError> {
    let caller = auth.require(Access::Read)?;
    let conn = &state.transmitter.db().orm;
    match query.stream_id {
        Some(stream_id) => {
            let stream = streams::find_owned(conn, caller, &stream_id).await?;
            streams::touch(conn, &stream.id).await?;
            Ok(Json(streams::configuration(&caller.provider, &stream)?).into_response())
        }
        None => {
            let all = streams::list_owned(conn, caller).await?;
            let configurations = all
                .iter()
                .map(|stream| streams::configuration(&caller.provider, stream))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Json(configurations).into_response())
        }
    }
}

/// Updates the receiver-supplied properties present in the body; others stay.
#[utoipa::path(
    patch,
    path = "/ssf/{slug}/streams",
    tag = "streams",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = StreamRequest,
    responses(
        (status = 200, description = "The updated configuration", body = StreamConfiguration),
        (status = 400, description = "Invalid request or a transmitter-supplied property differs", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn update(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<StreamRequest>,
) -> Result<Json<StreamConfiguration>, ApiError> {
    change(state, auth, request, UpdateMode::Patch).await
}

/// Replaces the receiver-supplied properties; those absent from the body are removed.
#[utoipa::path(
    put,
    path = "/ssf/{slug}/streams",
    tag = "streams",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = StreamRequest,
    responses(
        (status = 200, description = "The replaced configuration", body = StreamConfiguration),
        (status = 400, description = "Invalid request or a transmitter-supplied property differs", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn replace(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<StreamRequest>,
) -> Result<Json<StreamConfiguration>, ApiError> {
    change(state, auth, request, UpdateMode::Replace).await
}

async fn change(
    state: ApiState,
    auth: Authenticated,
    request: StreamRequest,
    mode: UpdateMode,
) -> Result<Json<StreamConfiguration>, ApiError> {
    let caller = auth.require(Access::Manage)?;
    let stream = streams::update(&state.transmitter, caller, request, mode).await?;
    Ok(Json(streams::configuration(&caller.provider, &stream)?))
}

/// Deletes a stream with its subjects and undelivered SETs.
#[utoipa::path(
    delete,
    path = "/ssf/{slug}/streams",
    tag = "streams",
    params(("slug" = String, Path, description = "The provider's slug"), StreamIdQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "stream_id missing", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn delete(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidQuery(query): ValidQuery<StreamIdQuery>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.require(Access::Manage)?;
    let stream_id = query
        .stream_id
        .ok_or_else(|| ApiError::invalid_request("stream_id is required"))?;
    streams::delete(&state.transmitter, caller, &stream_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
