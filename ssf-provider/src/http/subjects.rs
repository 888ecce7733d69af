//! The add-subject and remove-subject endpoints (SSF §8.1.3).

use axum::extract::State;
use axum::http::StatusCode;

use super::ApiState;
use super::auth::{Access, Authenticated};
use super::error::{ApiError, ErrorBody};
use super::json::ValidJson;
use crate::streams::subjects::{self, SubjectRequest};

/// Adds a subject to a stream.
#[utoipa::path(
    post,
    path = "/ssf/{slug}/subjects:add",
    tag = "subjects",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = SubjectRequest,
    responses(
        (status = 200, description = "Added (empty body)"),
        (status = 400, description = "Invalid request or subject", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
        (status = 409, description = "Too many subjects on this stream", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn add(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<SubjectRequest>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.require(Access::Manage)?;
    subjects::add_subject(
        &state.transmitter,
        caller,
        &request.stream_id,
        &request.subject,
    )
    .await?;
    Ok(StatusCode::OK)
}

/// Removes a subject from a stream.
#[utoipa::path(
    post,
    path = "/ssf/{slug}/subjects:remove",
    tag = "subjects",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = SubjectRequest,
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Invalid request or subject", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn remove(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<SubjectRequest>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.require(Access::Manage)?;
    subjects::remove_subject(
        &state.transmitter,
        caller,
        &request.stream_id,
        &request.subject,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
