//! RFC 8935 push: one POST of a compact SET, and what the receiver's answer means for the event.
//!
//! Connections are pooled per receiver host (one client for all streams); connect and whole
//! request times are bounded; redirects are never followed (a receiver cannot bounce a SET to
//! another host); proxies from the environment are ignored; the SSRF guard runs in the client's
//! DNS resolver. Providers that turned TLS verification off get a second client.
//!
//! Outcomes: any 2xx is delivered. 400 (with or without an RFC 8935 `err` body), 401, 403 and
//! other 4xx are permanent: sending the same bytes again cannot succeed. Connection errors,
//! timeouts, 408, 425, 429 and 5xx are transient; `Retry-After` is reported so the retry policy
//! can wait at least that long.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Client, StatusCode};
use serde::Deserialize;

use crate::endpoint_guard::{self, EndpointPolicy, GuardedResolver};

pub const SECEVENT_JWT: &str = "application/secevent+jwt";

/// What one push attempt produced.
#[derive(Debug, Clone, PartialEq)]
pub enum PushOutcome {
    Delivered {
        status: u16,
    },
    /// Worth trying again later. `status` is 0 when no response arrived.
    Transient {
        status: u16,
        error: String,
        retry_after: Option<Duration>,
        body: Option<String>,
        opens_circuit: bool,
    },
    /// Not worth trying again. `err` and `description` are the receiver's RFC 8935 error body.
    Permanent {
        status: u16,
        error: String,
        err: Option<String>,
        description: Option<String>,
        body: Option<String>,
    },
}

impl PushOutcome {
    pub fn status(&self) -> u16 {
        match self {
            Self::Delivered { status }
            | Self::Transient { status, .. }
            | Self::Permanent { status, .. } => *status,
        }
    }
}

/// One push: where, what, with which credentials.
#[derive(Clone, Copy)]
pub struct PushRequest<'a> {
    pub endpoint: &'a str,
    pub token: &'a str,
    /// The stream's `authorization_header`, sent verbatim. Secret.
    pub authorization: Option<&'a str>,
    pub verify_tls: bool,
}

/// Timeouts and limits of the push client.
#[derive(Debug, Clone)]
pub struct PushSettings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_connections_per_host: usize,
    pub max_response_body: usize,
}

/// Cheap to clone; clones share connection pools.
#[derive(Clone)]
pub struct PushClient {
    verified: Client,
    unverified: Client,
    policy: EndpointPolicy,
    max_response_body: usize,
}

/// The push client could not be built (TLS backend unavailable).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the push HTTP client: {0}")]
pub struct PushClientError(String);

#[derive(Deserialize)]
struct ErrorBody {
    err: Option<String>,
    description: Option<String>,
}

impl PushClient {
    pub fn new(settings: &PushSettings, policy: EndpointPolicy) -> Result<Self, PushClientError> {
        let build = |verify: bool| {
            let builder = Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(settings.connect_timeout)
                .timeout(settings.request_timeout)
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(settings.idle_connections_per_host)
                .tcp_nodelay(true)
                .user_agent(concat!("ssf-transmitter/", env!("CARGO_PKG_VERSION")))
                .dns_resolver(std::sync::Arc::new(GuardedResolver::new(policy.clone())));
            let builder = if verify {
                builder
            } else {
                builder
                    .tls_danger_accept_invalid_certs(true)
                    .tls_danger_accept_invalid_hostnames(true)
            };
            builder.build().map_err(|e| PushClientError(e.to_string()))
        };
        Ok(Self {
            verified: build(true)?,
            unverified: build(false)?,
            policy,
            max_response_body: settings.max_response_body,
        })
    }

    /// POSTs the SET and classifies the answer. Never fails: every problem is an outcome.
    pub async fn push(&self, request: PushRequest<'_>) -> (PushOutcome, Duration) {
        let started = Instant::now();
        let outcome = self.push_inner(request).await;
        (outcome, started.elapsed())
    }

    async fn push_inner(&self, request: PushRequest<'_>) -> PushOutcome {
        let url = match self.checked_url(request.endpoint) {
            Ok(url) => url,
            Err(error) => return permanent(0, error),
        };
        let mut builder = if request.verify_tls {
            &self.verified
        } else {
            &self.unverified
        }
        .post(url)
        .header(CONTENT_TYPE, SECEVENT_JWT)
        .header(ACCEPT, "application/json")
        .body(request.token.to_owned());
        if let Some(authorization) = request.authorization {
            match HeaderValue::from_str(authorization) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    builder = builder.header(AUTHORIZATION, value);
                }
                Err(_) => {
                    return permanent(
                        0,
                        "the stream's authorization_header is not a valid HTTP header value".into(),
                    );
                }
            }
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(error) => return self.transport_failure(&error),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status.is_success() {
            // A body left unread takes its connection out of the pool; read (and drop) a short
            // one so the next SET to this receiver reuses the connection.
            if response.content_length() != Some(0) {
                drain_limited(&mut response, self.max_response_body).await;
            }
            return PushOutcome::Delivered {
                status: status.as_u16(),
            };
        }
        let body = read_limited(&mut response, self.max_response_body).await;
        classify(status, retry_after, location, body)
    }

    fn checked_url(&self, endpoint: &str) -> Result<reqwest::Url, String> {
        let url =
            reqwest::Url::parse(endpoint).map_err(|e| format!("invalid endpoint URL: {e}"))?;
        match url.scheme() {
            "https" => {}
            "http" if self.policy.allows_insecure() => {}
            "http" => {
                return Err("plain http endpoint refused; push endpoints must use https".into());
            }
            other => return Err(format!("unsupported endpoint scheme {other:?}")),
        }
        endpoint_guard::check_literal_host(&self.policy, &url)
            .map_err(|blocked| blocked.to_string())?;
        Ok(url)
    }

    fn transport_failure(&self, error: &reqwest::Error) -> PushOutcome {
        if let Some(blocked) = endpoint_guard::find_blocked(error) {
            return permanent(0, blocked.to_string());
        }
        let error = if error.is_timeout() {
            "timed out waiting for the receiver".to_owned()
        } else if error.is_connect() {
            format!("cannot connect to the receiver: {}", root_cause(error))
        } else {
            format!("request failed: {}", root_cause(error))
        };
        PushOutcome::Transient {
            status: 0,
            error,
            retry_after: None,
            body: None,
            opens_circuit: true,
        }
    }
}

fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: Option<String>,
) -> PushOutcome {
    let code = status.as_u16();
    match code {
        408 | 425 | 429 | 500..=599 => PushOutcome::Transient {
            status: code,
            error: format!("receiver answered {status}"),
            retry_after,
            body,
            // Throttling and gateway/unavailable answers speak for the whole endpoint.
            opens_circuit: matches!(code, 429 | 502 | 503 | 504),
        },
        300..=399 => permanent(
            code,
            match location {
                Some(location) => {
                    format!("receiver answered {status} to {location}; redirects are not followed")
                }
                None => format!("receiver answered {status}; redirects are not followed"),
            },
        ),
        _ => {
            let parsed = body
                .as_deref()
                .and_then(|b| serde_json::from_str::<ErrorBody>(b).ok());
            let (err, description) = parsed
                .map(|p| (p.err, p.description))
                .unwrap_or((None, None));
            let error = match (&err, &description) {
                (Some(err), Some(description)) => {
                    format!("receiver answered {status}: {err}: {description}")
                }
                (Some(err), None) => format!("receiver answered {status}: {err}"),
                _ => format!("receiver answered {status}"),
            };
            PushOutcome::Permanent {
                status: code,
                error,
                err,
                description,
                body,
            }
        }
    }
}

fn permanent(status: u16, error: String) -> PushOutcome {
    PushOutcome::Permanent {
        status,
        error,
        err: None,
        description: None,
        body: None,
    }
}

/// `Retry-After`: delta-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

async fn read_limited(response: &mut reqwest::Response, limit: usize) -> Option<String> {
    let mut bytes = Vec::new();
    while bytes.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    if bytes.is_empty() {
        return None;
    }
    bytes.truncate(limit);
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    // Truncation may have cut a multi-byte character; lossy decoding marks it, trim that mark.
    while text.ends_with('\u{FFFD}') {
        text.pop();
    }
    Some(text)
}

/// Reads a response body to its end unless it is longer than `limit` (then the connection is
/// dropped, which is what a long body deserves).
async fn drain_limited(response: &mut reqwest::Response, limit: usize) {
    let mut read = 0;
    while read <= limit {
        match response.chunk().await {
            Ok(Some(chunk)) => read += chunk.len(),
            _ => break,
        }
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(insecure: bool) -> PushClient {
        let settings = PushSettings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(2),
            idle_connections_per_host: 4,
            max_response_body: 64,
        };
        PushClient::new(&settings, EndpointPolicy::new(insecure, vec![])).unwrap()
    }

    fn request(endpoint: &str) -> PushRequest<'_> {
        PushRequest {
            endpoint,
            token: "a.b.c",
            authorization: None,
            verify_tls: true,
        }
    }

    #[test]
    fn statuses_are_classified() {
        let body = Some(r#"{"err":"invalid_audience","description":"wrong aud"}"#.to_owned());
        match classify(StatusCode::BAD_REQUEST, None, None, body) {
            PushOutcome::Permanent {
                status: 400,
                err,
                description,
                ..
            } => {
                assert_eq!(err.as_deref(), Some("invalid_audience"));
                assert_eq!(description.as_deref(), Some("wrong aud"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, None, None),
            PushOutcome::Permanent { status: 401, .. }
        ));
        assert!(matches!(
            classify(StatusCode::FORBIDDEN, None, None, None),
            PushOutcome::Permanent { status: 403, .. }
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, None, None, None),
            PushOutcome::Transient {
                status: 503,
                opens_circuit: true,
                ..
            }
        ));
        assert!(matches!(
            classify(StatusCode::INTERNAL_SERVER_ERROR, None, None, None),
            PushOutcome::Transient {
                status: 500,
                opens_circuit: false,
                ..
            }
        ));
        match classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(7)),
            None,
            None,
        ) {
            PushOutcome::Transient { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(7)))
            }
            other => panic!("{other:?}"),
        }
        match classify(
            StatusCode::FOUND,
            None,
            Some("https://elsewhere".into()),
            None,
        ) {
            PushOutcome::Permanent { error, .. } => {
                assert!(error.contains("redirects are not followed"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            classify(StatusCode::BAD_REQUEST, None, None, Some("not json".into())),
            PushOutcome::Permanent { err: None, .. }
        ));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO),
            "a past date means now"
        );
        let future = (chrono::Utc::now() + chrono::Duration::seconds(60)).to_rfc2822();
        let wait = parse_retry_after(&future).unwrap();
        assert!(
            wait > Duration::from_secs(50) && wait <= Duration::from_secs(60),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn unsafe_endpoints_are_refused_without_a_request() {
        let guarded = client(false);
        for endpoint in [
            "http://receiver.example/events",
            "https://127.0.0.1/events",
            "https://169.254.169.254/latest",
            "https://[::ffff:127.0.0.1]/x",
            "https://localhost/events",
            "ftp://receiver.example/x",
            "not a url",
        ] {
            let (outcome, _) = guarded.push(request(endpoint)).await;
            assert!(
                matches!(outcome, PushOutcome::Permanent { status: 0, .. }),
                "{endpoint}: {outcome:?}"
            );
        }
    }

    #[tokio::test]
    async fn connection_refused_is_transient() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let endpoint = format!("http://127.0.0.1:{port}/events");
        let (outcome, _) = client(true).push(request(&endpoint)).await;
        assert!(
            matches!(
                outcome,
                PushOutcome::Transient {
                    status: 0,
                    opens_circuit: true,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
}
