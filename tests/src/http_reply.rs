//! One HTTP exchange with the server under test, read completely, so a test can assert on the
//! status, the headers and the body (and on the API's JSON error format) in any order.

use reqwest::header::HeaderMap;
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;

/// A response, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The stable error code of an error response, checking the body is in the API's error
    /// format (`error` and `description`).
    pub fn error_code(&self) -> String {
        let body = self.json();
        assert!(
            body["description"].is_string(),
            "error without description: {body}"
        );
        body["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {body}"))
            .to_owned()
    }

    /// The error response's `description` (empty when there is none).
    pub fn description(&self) -> String {
        self.json()["description"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends a request with an optional bearer token and an optional JSON body (sent as given, so
/// a test can send JSON that is not well-formed), and reads the whole answer.
pub async fn send(
    client: &Client,
    method: Method,
    url: &str,
    bearer: Option<&str>,
    json_body: Option<String>,
) -> Reply {
    let mut request = client.request(method, url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = json_body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("body");
    Reply {
        status,
        headers,
        text,
    }
}
