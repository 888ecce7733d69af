//! HTTPS for `ssf serve --tls-cert --tls-key`, with openssl like the rest of the project.

use std::path::Path;

use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};

/// Why the certificate or key could not be loaded; one line for the operator.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS certificate {path}: {reason}")]
    Certificate { path: String, reason: String },
    #[error("cannot read TLS private key {path}: {reason}")]
    PrivateKey { path: String, reason: String },
    #[error("TLS private key {key} does not match certificate {cert}")]
    Mismatch { cert: String, key: String },
    #[error("cannot set up TLS: {0}")]
    Setup(String),
}

/// Builds an acceptor with Mozilla's "intermediate" settings from PEM files.
pub fn acceptor(cert: &Path, key: &Path) -> Result<SslAcceptor, TlsError> {
    let mut builder = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let cert_name = cert.display().to_string();
    let key_name = key.display().to_string();
    readable(cert).map_err(|reason| TlsError::Certificate {
        path: cert_name.clone(),
        reason,
    })?;
    readable(key).map_err(|reason| TlsError::PrivateKey {
        path: key_name.clone(),
        reason,
    })?;
    builder
        .set_certificate_chain_file(cert)
        .map_err(|e| TlsError::Certificate {
            path: cert_name.clone(),
            reason: first_reason(&e),
        })?;
    builder
        .set_private_key_file(key, SslFiletype::PEM)
        .map_err(|e| TlsError::PrivateKey {
            path: key_name.clone(),
            reason: first_reason(&e),
        })?;
    builder
        .check_private_key()
        .map_err(|_| TlsError::Mismatch {
            cert: cert_name,
            key: key_name,
        })?;
    builder.set_alpn_select_callback(|_, offered| {
        openssl::ssl::select_next_proto(b"\x02h2\x08http/1.1", offered)
            .ok_or(openssl::ssl::AlpnError::NOACK)
    });
    Ok(builder.build())
}

// openssl's errors for a missing file are a stack of library codes; say it plainly first.
fn readable(path: &Path) -> Result<(), String> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn first_reason(error: &openssl::error::ErrorStack) -> String {
    error
        .errors()
        .first()
        .and_then(|e| e.reason().map(str::to_owned))
        .unwrap_or_else(|| "not a PEM file openssl can read".to_owned())
}
