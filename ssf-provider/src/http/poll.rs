//! RFC 8936 poll endpoint of a poll stream.

use axum::Json;
use axum::extract::{Path, State};

use super::ApiState;
use super::auth::{Access, Authenticated};
use super::error::{ApiError, ErrorBody};
use super::json::OptionalJson;
use crate::streams::poll::{self, PollRequest, PollResponse};

/// Acknowledges SETs and fetches the next ones. Without `returnImmediately: true` the request
/// waits (up to the transmitter's long-poll bound) until a SET is available.
#[utoipa::path(
    post,
    path = "/ssf/{slug}/poll/{stream_id}",
    tag = "poll",
    params(
        ("slug" = String, Path, description = "The provider's slug"),
        ("stream_id" = String, Path, description = "The poll stream"),
    ),
    request_body = PollRequest,
    responses(
        (status = 200, description = "SETs by jti, and whether more are available", body = PollResponse),
        (status = 400, description = "Invalid request", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such poll stream for this receiver", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn poll(
    State(state): State<ApiState>,
    auth: Authenticated,
    Path((_slug, stream_id)): Path<(String, String)>,
    OptionalJson(request): OptionalJson<PollRequest>,
) -> Result<Json<PollResponse>, ApiError> {
    let caller = auth.require(Access::Poll)?;
    Ok(Json(
        poll::poll(&state.transmitter, caller, &stream_id, request).await?,
    ))
}
