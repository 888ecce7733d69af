//! The SSF API as an OpenAPI 3 document, served at `/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::discovery::{AuthorizationScheme, TransmitterConfiguration};
use super::error::ErrorBody;
use crate::streams::poll::{PollRequest, PollResponse, SetErr};
use crate::streams::status::StreamStatusBody;
use crate::streams::subjects::SubjectRequest;
use crate::streams::verification::VerificationRequest;
use crate::streams::{DeliveryConfiguration, DeliveryRequest, StreamConfiguration, StreamRequest};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "OpenID Shared Signals Framework transmitter",
        description = "SSF 1.0 transmitter configuration discovery, stream management and RFC 8936 poll delivery. \
                       Each provider is addressed by its slug; its issuer is `{public_url}/ssf/{slug}`."
    ),
    paths(
        super::discovery::configuration,
        super::discovery::jwks,
        super::streams::create,
        super::streams::read,
        super::streams::update,
        super::streams::replace,
        super::streams::delete,
        super::status::read,
        super::status::update,
        super::subjects::add,
        super::subjects::remove,
        super::verification::verify,
        super::poll::poll,
        document,
    ),
    components(schemas(
        TransmitterConfiguration,
        AuthorizationScheme,
        StreamRequest,
        DeliveryRequest,
        StreamConfiguration,
        DeliveryConfiguration,
        StreamStatusBody,
        SubjectRequest,
        VerificationRequest,
        PollRequest,
        SetErr,
        PollResponse,
        ErrorBody,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "discovery", description = "Transmitter configuration metadata and keys"),
        (name = "streams", description = "Stream configuration (SSF §8.1.1)"),
        (name = "status", description = "Stream status (SSF §8.1.2)"),
        (name = "subjects", description = "Stream subjects (SSF §8.1.3)"),
        (name = "verification", description = "Verification (SSF §8.1.4)"),
        (name = "poll", description = "Poll delivery (RFC 8936)"),
    )
)]
pub struct SsfApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A receiver token, or an access token of the embedding IdP with scope ssf.read or ssf.manage",
                    ))
                    .build(),
            ),
        );
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "discovery",
    responses((status = 200, description = "The OpenAPI document of the SSF API", body = Object))
)]
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    let mut document = SsfApiDoc::openapi();
    document.merge(super::admin::openapi::document());
    Json(document)
}
