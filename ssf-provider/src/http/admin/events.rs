//! Emitting IdP events, and one stream's delivery log: its events, their attempts, redrive.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use ssf_entities::EventStatus;

use super::{AdminJson, AdminPath, AdminState, Caller};
use crate::admin::delivery_log::{self, AttemptView, EventFilter, EventPage, EventSummary};
use crate::admin::emit::{self, EmitReceipt};
use crate::admin::redrive;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::json::ValidQuery;
use crate::idp::IdpEvent;

/// Records the SETs an IdP event becomes on every stream of the provider that asked for its
/// type and covers its user; delivery follows. The body is an IdP event as `docs/events.md`
/// describes it, e.g. `{"type": "session.logout", "user": {"email": "alice@example.com"}}`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/providers/{id}/events",
    tag = "admin: events",
    params(("id" = String, Path, description = "The provider's id")),
    request_body(content = Object, description = "An IdP event (see docs/events.md)"),
    responses(
        (status = 202, description = "Recorded; delivery follows", body = EmitReceipt),
        (status = 400, description = "Not a valid IdP event", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such provider", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn emit(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath(id): AdminPath<String>,
    AdminJson(event): AdminJson<IdpEvent>,
) -> Result<(StatusCode, Json<EmitReceipt>), ApiError> {
    let receipt = emit::emit(&state.transmitter, &actor, &id, event).await?;
    Ok((StatusCode::ACCEPTED, Json(receipt)))
}

/// `?status=&txn=&limit=&cursor=`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only events in this state: `pending`, `held`, `delivered`, `failed` or `expired`.
    #[param(value_type = Option<String>)]
    pub status: Option<EventStatus>,
    /// Only the SETs of one IdP event.
    pub txn: Option<String>,
    /// Events per page, 1-500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists a stream's events, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/admin/api/v1/streams/{stream_id}/events",
    tag = "admin: events",
    params(("stream_id" = String, Path, description = "The stream"), EventsQuery),
    responses(
        (status = 200, description = "A page of events", body = EventPage),
        (status = 400, description = "Invalid filter, limit or cursor", body = ErrorBody),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such stream", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn list(
    State(state): State<AdminState>,
    AdminPath(stream_id): AdminPath<String>,
    ValidQuery(query): ValidQuery<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let filter = EventFilter {
        status: query.status,
        txn: query.txn,
        limit: query.limit,
        cursor: query.cursor,
    };
    Ok(Json(
        delivery_log::events(&state.transmitter.db().orm, &stream_id, filter).await?,
    ))
}

/// Lists every delivery attempt of one event, oldest first.
#[utoipa::path(
    get,
    path = "/admin/api/v1/streams/{stream_id}/events/{jti}/attempts",
    tag = "admin: events",
    params(
        ("stream_id" = String, Path, description = "The stream"),
        ("jti" = String, Path, description = "The SET's jti"),
    ),
    responses(
        (status = 200, description = "The attempts", body = [AttemptView]),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such stream or event", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn attempts(
    State(state): State<AdminState>,
    AdminPath((stream_id, jti)): AdminPath<(String, String)>,
) -> Result<Json<Vec<AttemptView>>, ApiError> {
    Ok(Json(
        delivery_log::attempts(&state.transmitter.db().orm, &stream_id, &jti).await?,
    ))
}

/// Redrives a failed or expired event: due again now, retention extended, same signed bytes.
#[utoipa::path(
    post,
    path = "/admin/api/v1/streams/{stream_id}/events/{jti}/retry",
    tag = "admin: events",
    params(
        ("stream_id" = String, Path, description = "The stream"),
        ("jti" = String, Path, description = "The SET's jti"),
    ),
    responses(
        (status = 200, description = "The event, pending again (held on a paused stream)", body = EventSummary),
        (status = 401, description = "Missing or wrong admin token", body = ErrorBody),
        (status = 404, description = "No such stream or event", body = ErrorBody),
        (status = 409, description = "The event is not failed or expired, or the stream is disabled", body = ErrorBody),
    ),
    security(("admin_token" = []))
)]
pub(super) async fn retry(
    State(state): State<AdminState>,
    Caller(actor): Caller,
    AdminPath((stream_id, jti)): AdminPath<(String, String)>,
) -> Result<Json<EventSummary>, ApiError> {
    Ok(Json(
        redrive::redrive_event(&state.transmitter, &actor, &stream_id, &jti).await?,
    ))
}
