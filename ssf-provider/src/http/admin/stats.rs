//! Delivery rate per minute, for the admin UI's live view.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::AdminState;
use crate::admin::delivery_log::{self, DeliveryStats};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::ValidQuery;

/// `?window=&provider_id=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Seconds back from now, 60-86400 (default 3600).
    pub window: Option<i64>,
    /// Only this provider's deliveries (default: all providers).
    pub provider_id: Option<String>,
}

/// Delivered and failed delivery attempts per minute over the window, every minute present.
#[utoipa::path(
    get,
    path = "/admin/api/v1/stats",
    tag = "admin: stats",
    params(StatsQuery),
    responses(
        (status = 200, description = "Attempts per minute, oldest first", body = DeliveryStats),
        (status = 400, description = "Invalid window", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn stats(
    State(state): State<AdminState>,
    ValidQuery(query): ValidQuery<StatsQuery>,
) -> Result<Json<DeliveryStats>, ApiError> {
    let window = query.window.unwrap_or(3600);
    Ok(Json(
        delivery_log::stats(
            &state.transmitter.db().orm,
            window,
            query.provider_id.as_deref(),
        )
        .await?,
    ))
}
