//! The HTTP side of `ssf serve`: binding, plain or TLS serving, and graceful shutdown.
//!
//! The routes themselves come from `ssf_provider::http`; this module adds the operational
//! endpoints (`/healthz`, `/metrics`) and runs the listener until shutdown is requested.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use openssl::ssl::{Ssl, SslAcceptor};
use ssf_provider::Transmitter;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Why the server could not start; one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: address already in use")]
    AddressInUse { addr: String },
    #[error("cannot listen on {addr}: {reason}")]
    Bind { addr: String, reason: String },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds the listener up front, so a port in use is reported before anything else starts.
pub async fn bind(addr: &str) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => ServeError::AddressInUse {
            addr: addr.to_owned(),
        },
        _ => ServeError::Bind {
            addr: addr.to_owned(),
            reason: e.to_string(),
        },
    })
}

/// The whole application router: the provider's routes plus operational endpoints.
pub fn app(transmitter: Transmitter, extra: Router) -> Router {
    let operational = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(transmitter);
    operational.merge(extra)
}

async fn healthz(State(transmitter): State<Transmitter>) -> impl IntoResponse {
    match tokio::time::timeout(Duration::from_secs(5), transmitter.db().ping()).await {
        Ok(Ok(())) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(
                serde_json::json!({"status": "unavailable", "description": "the database does not answer"}),
            ),
        ),
    }
}

async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics::render(),
    )
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then lets open requests finish
/// for up to `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<SslAcceptor>,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), ServeError> {
    match tls {
        None => {
            let stop = shutdown.clone();
            let server = axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move { stop.cancelled().await });
            let server = tokio::spawn(async move { server.await });
            shutdown.cancelled().await;
            match tokio::time::timeout(grace, server).await {
                Ok(Ok(result)) => result.map_err(ServeError::Io),
                Ok(Err(join)) => Err(ServeError::Io(std::io::Error::other(join.to_string()))),
                Err(_) => {
                    tracing::warn!(
                        grace_ms = grace.as_millis() as u64,
                        "open connections did not finish in time"
                    );
                    Ok(())
                }
            }
        }
        Some(acceptor) => serve_tls(listener, router, Arc::new(acceptor), shutdown, grace).await,
    }
}

async fn serve_tls(
    listener: TcpListener,
    router: Router,
    acceptor: Arc<SslAcceptor>,
    shutdown: CancellationToken,
    grace: Duration,
) -> Result<(), ServeError> {
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Running out of file descriptors is transient; back off instead of spinning.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Ok(ssl) = Ssl::new(acceptor.context()) else {
                return;
            };
            let Ok(mut stream) = tokio_openssl::SslStream::new(ssl, tcp) else {
                return;
            };
            let handshake = tokio::time::timeout(
                Duration::from_secs(10),
                std::pin::Pin::new(&mut stream).accept(),
            )
            .await;
            if !matches!(handshake, Ok(Ok(()))) {
                tracing::debug!(%peer, "TLS handshake failed");
                return;
            }
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    router.clone().oneshot(request.map(axum::body::Body::new))
                },
            );
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "open TLS connections did not finish in time"
        );
    }
    Ok(())
}
