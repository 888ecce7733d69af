//! Audit lines: one `tracing` event per administrative change, on the `ssf::audit` target, so
//! an operator can route them to their own sink (`RUST_LOG=ssf::audit=info`).
//!
//! A line says who (the [`Actor`]), what (a stable action name such as `provider.create`),
//! which ids, and when (an RFC 3339 `at`, besides the subscriber's own timestamp). It never
//! holds a secret: callers pass ids and non-secret settings only.

use crate::clock::now_ms;

/// Who made a change: the admin API (optionally naming the person its caller acts for) or the
/// command line (naming the operating-system user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(String);

/// Longest actor name kept; longer ones are cut.
const MAX_ACTOR_CHARS: usize = 128;

impl Actor {
    /// The admin API. `on_behalf_of` is what the caller says about the person behind the
    /// request (the admin UI's logged-in user); it is not authenticated and only recorded.
    pub fn api(on_behalf_of: Option<&str>) -> Self {
        match on_behalf_of.map(clean).filter(|name| !name.is_empty()) {
            Some(name) => Self(format!("admin-api:{name}")),
            None => Self("admin-api".to_owned()),
        }
    }

    /// The `ssf` command line, run by the operating-system user `user`.
    pub fn cli(user: Option<&str>) -> Self {
        match user.map(clean).filter(|name| !name.is_empty()) {
            Some(name) => Self(format!("cli:{name}")),
            None => Self("cli".to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Printable characters only (no line breaks to forge audit lines with), bounded in length.
fn clean(name: &str) -> String {
    name.trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_ACTOR_CHARS)
        .collect()
}

/// The ids an audit line names; absent ones are left out of the line.
#[derive(Debug, Default, Clone, Copy)]
pub struct Target<'a> {
    pub provider_id: Option<&'a str>,
    pub receiver_id: Option<&'a str>,
    pub stream_id: Option<&'a str>,
    pub jti: Option<&'a str>,
    pub kid: Option<&'a str>,
}

impl<'a> Target<'a> {
    pub fn provider(provider_id: &'a str) -> Self {
        Self {
            provider_id: Some(provider_id),
            ..Self::default()
        }
    }

    pub fn stream(stream_id: &'a str) -> Self {
        Self {
            stream_id: Some(stream_id),
            ..Self::default()
        }
    }
}

/// Logs one administrative change. `detail` is a short, secret-free summary (e.g. which
/// settings changed, how many events were redriven).
pub fn record(actor: &Actor, action: &'static str, target: Target<'_>, detail: &str) {
    let at =
        crate::clock::to_datetime(now_ms()).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    tracing::info!(
        target: "ssf::audit",
        actor = actor.as_str(),
        action,
        provider_id = target.provider_id,
        receiver_id = target.receiver_id,
        stream_id = target.stream_id,
        jti = target.jti,
        kid = target.kid,
        detail,
        at = %at,
        "admin change"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_cannot_forge_lines_or_grow_without_bound() {
        assert_eq!(Actor::api(None).as_str(), "admin-api");
        assert_eq!(Actor::api(Some("  ")).as_str(), "admin-api");
        assert_eq!(
            Actor::api(Some("alice\nactor=root")).as_str(),
            "admin-api:aliceactor=root"
        );
        assert_eq!(
            Actor::cli(Some(&"x".repeat(500))).as_str().len(),
            "cli:".len() + MAX_ACTOR_CHARS
        );
    }
}
