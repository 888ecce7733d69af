//! The verification endpoint (SSF §8.1.4.2).

use axum::extract::State;
use axum::http::StatusCode;

use super::ApiState;
use super::auth::{Access, Authenticated};
use super::error::{ApiError, ErrorBody};
use super::json::ValidJson;
use crate::streams::verification::{self, VerificationRequest};

/// Asks for a verification SET on a stream; it is delivered like the stream's other SETs.
#[utoipa::path(
    post,
    path = "/ssf/{slug}/verify",
    tag = "verification",
    params(("slug" = String, Path, description = "The provider's slug")),
    request_body = VerificationRequest,
    responses(
        (status = 204, description = "The verification SET is on its way"),
        (status = 400, description = "Invalid request, or the stream is disabled", body = ErrorBody),
        (status = 401, description = "Missing or invalid token", body = ErrorBody),
        (status = 404, description = "No such stream for this receiver", body = ErrorBody),
        (status = 429, description = "Less than min_verification_interval since the last request", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(super) async fn verify(
    State(state): State<ApiState>,
    auth: Authenticated,
    ValidJson(request): ValidJson<VerificationRequest>,
) -> Result<StatusCode, ApiError> {
    let caller = auth.require(Access::Manage)?;
    verification::request_verification(
        &state.transmitter,
        caller,
        &request.stream_id,
        request.state,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
