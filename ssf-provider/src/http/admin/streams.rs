//! Streams as operators see them: counts, last error, status changes, bulk redrive.

use axum::Json;
use axum::extract::State;

use super::{AdminJson, AdminPath, AdminState, Caller, OptionalAdminJson};
use crate::admin::delivery_log::{self, StreamOverview};
use crate::admin::redrive::{self, RedriveFailed, RedriveReport};
use crate::admin::stream_control::{self, StatusChange};
use crate::http::error::{ApiError, ErrorBody};

/// Lists a provider's streams with their owner, delivery, status, event counts and last error.
#[utoipa::path(
    get,
    path = "/admin/api/v1/providers/{id}/streams",
    tag = "admin: streams",
    params(("id" = String, Path, description = "The provider's id")),
    responses(
        (status = 200, description = "The streams, oldest first", body = [StreamOverview]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn list(
    State(state): State<AdminState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<Vec<StreamOverview>>, ApiError> {
    Ok(Json(
        delivery_log::streams_of(&state.transmitter.db().orm, &id).await?,
    ))
}

/// Reads one stream's overview.
#[utoipa::path(
    get,
    path = "/admin/api/v1/streams/{stream_id}",
    tag = "admin: streams",
    params(("stream_id" = String, Path, description = "The stream")),
    responses(
        (status = 200, description = "The stream", body = StreamOverview),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn show(
    State(state): State<AdminState>,
    AdminPath(stream_id): AdminPath<String>,
) -> Result<Json<StreamOverview>, ApiError> {
    Ok(Json(
        delivery_log::stream_overview(&state.transmitter.db().orm, &stream_id).await?,
    ))
}

/// Pauses, enables or disables a stream. The receiver is told by a stream-updated SET.
#[utoipa::path(
    patch,
    path = "/admin/api/v1/streams/{stream_id}",
    tag = "admin: streams",
    params(("stream_id" = String, Path, description = "The stream")),
    request_body = StatusChange,
    responses(
        (status = 200, description = "The stream as changed", body = StreamOverview),
        (status = 400, description = "Invalid status or reason", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "The stream's provider was deleted", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn change_status(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(stream_id): AdminPath<String>,
    AdminJson(change): AdminJson<StatusChange>,
) -> Result<Json<StreamOverview>, ApiError> {
    Ok(Json(
        stream_control::change_status(&state.transmitter, &actor, &stream_id, change).await?,
    ))
}

/// Redrives the stream's failed events (optionally expired ones too, optionally in a time
/// range), oldest first, up to a bound per request. The body is optional.
#[utoipa::path(
    post,
    path = "/admin/api/v1/streams/{stream_id}/retry-failed",
    tag = "admin: streams",
    params(("stream_id" = String, Path, description = "The stream")),
    request_body(content = Option<RedriveFailed>, description = "Optional; an empty body redrives up to 1000 failed events"),
    responses(
        (status = 200, description = "How many events are due again, and how many matching are left", body = RedriveReport),
        (status = 400, description = "Invalid range or limit", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
        (status = 409, description = "The stream is disabled or its provider deleted", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn retry_failed(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(stream_id): AdminPath<String>,
    OptionalAdminJson(request): OptionalAdminJson<RedriveFailed>,
) -> Result<Json<RedriveReport>, ApiError> {
    Ok(Json(
        redrive::redrive_failed(&state.transmitter, &actor, &stream_id, request).await?,
    ))
}
