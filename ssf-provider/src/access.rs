//! The IdP's say on who may hear about whom.
//!
//! An IdP typically lets a receiver learn about a user only if that user may use the
//! receiver's application (authentik checks the application's policy bindings before it
//! sends). The transmitter knows streams, not applications, so the IdP decides through an
//! [`AccessHook`] set with [`Transmitter::with_access_hook`](crate::Transmitter::with_access_hook).

use async_trait::async_trait;
use ssf_entities::streams;

use crate::idp::User;

/// Decides whether a stream may receive events about a user.
///
/// emit() asks once per stream that asked for the event type and covers the user, before it
/// opens its write transaction; a `false` means the stream gets no SET for this event. Keep
/// it quick: every emit() waits for it, once per candidate stream.
#[async_trait]
pub trait AccessHook: Send + Sync {
    async fn may_receive(&self, user: &User, stream: &streams::Model) -> bool;
}

/// The default: every stream that asked for an event and covers the user receives it.
#[derive(Debug, Clone, Copy, Default)]
pub struct AllowAll;

#[async_trait]
impl AccessHook for AllowAll {
    async fn may_receive(&self, _user: &User, _stream: &streams::Model) -> bool {
        true
    }
}
