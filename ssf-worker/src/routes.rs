//! Every API route the program serves, assembled from the provider crate's routers.

use axum::Router;
use ssf_provider::Transmitter;

/// The SSF API for receivers and the admin API for administrators.
pub fn api(transmitter: Transmitter, admin_token: String) -> Router {
    ssf_provider::http::router(transmitter.clone())
        .merge(ssf_provider::http::admin::router(transmitter, admin_token))
        .merge(ssf_provider::http::admin_ui::router())
}
