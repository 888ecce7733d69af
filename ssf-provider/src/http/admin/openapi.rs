//! The admin API as an OpenAPI 3 document, merged into the one served at `/openapi.json`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::admin::delivery_log::{
    AttemptView, DeliveryStats, EventCounts, EventPage, EventSummary, MinuteStats, StreamOverview,
};
use crate::admin::emit::EmitReceipt;
use crate::admin::keys::{KeyView, RotateKey};
use crate::admin::providers::{CreateProvider, DeletedProvider, ProviderChanges, ProviderView};
use crate::admin::receivers::{CreateReceiver, ReceiverView, ReceiverWithToken, RevokedReceiver};
use crate::admin::redrive::{RedriveFailed, RedriveReport};
use crate::admin::stream_control::StatusChange;
use crate::http::error::ErrorBody;

#[derive(OpenApi)]
#[openapi(
    paths(
        super::providers::create,
        super::providers::list,
        super::providers::show,
        super::providers::update,
        super::providers::delete,
        super::receivers::create,
        super::receivers::list,
        super::receivers::revoke,
        super::receivers::rotate_token,
        super::keys::list,
        super::keys::rotate,
        super::events::emit,
        super::events::list,
        super::events::attempts,
        super::events::retry,
        super::streams::list,
        super::streams::show,
        super::streams::change_status,
        super::streams::retry_failed,
        super::stats::stats,
    ),
    components(schemas(
        CreateProvider,
        ProviderChanges,
        ProviderView,
        DeletedProvider,
        CreateReceiver,
        ReceiverView,
        ReceiverWithToken,
        RevokedReceiver,
        RotateKey,
        KeyView,
        EmitReceipt,
        StreamOverview,
        EventCounts,
        StatusChange,
        EventPage,
        EventSummary,
        AttemptView,
        RedriveFailed,
        RedriveReport,
        DeliveryStats,
        MinuteStats,
        ErrorBody,
    )),
    modifiers(&AdminTokenAuth),
    tags(
        (name = "admin: providers", description = "Provider configuration"),
        (name = "admin: receivers", description = "Receivers and their bearer tokens"),
        (name = "admin: keys", description = "Signing keys and rotation"),
        (name = "admin: events", description = "Emitting IdP events; a stream's delivery log and redrive"),
        (name = "admin: streams", description = "Streams, their counts and status"),
        (name = "admin: stats", description = "Delivery rate"),
    )
)]
pub struct AdminApiDoc;

struct AdminTokenAuth;

impl Modify for AdminTokenAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The admin token (SSF_ADMIN_TOKEN of `ssf serve`)"))
                    .build(),
            ),
        );
    }
}

/// The admin API's OpenAPI document.
pub fn document() -> utoipa::openapi::OpenApi {
    AdminApiDoc::openapi()
}
