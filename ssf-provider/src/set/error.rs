use super::EventType;

/// Why a SET, an event or a subject identifier could not be built or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("unknown event type URI `{0}`")]
    UnknownEventType(String),
    #[error("the `events` claim must hold exactly one event, found {0}")]
    EventCount(usize),
    #[error("the event object of `{0}` is not a JSON object")]
    EventNotObject(EventType),
    #[error("invalid `{event_type}` event: {source}")]
    InvalidEvent {
        event_type: EventType,
        #[source]
        source: serde_json::Error,
    },
    #[error("claim `{0}` must not appear in an SSF SET")]
    ForbiddenClaim(&'static str),
    #[error("claim `{0}` must not be empty")]
    EmptyClaim(&'static str),
    #[error("the SET has no subject: neither `sub_id` nor a `subject` in the event")]
    MissingSubject,
    #[error("the event's `subject` differs from the top-level `sub_id`")]
    ConflictingSubjects,
    #[error("`{0}` events must have an `opaque` subject whose id is the stream id")]
    StreamEventSubject(EventType),
    #[error("token-claims-change must carry at least one claim")]
    NoChangedClaims,
    #[error("invalid subject identifier: {0}")]
    InvalidSubject(String),
    #[error("malformed SET claims: {0}")]
    Json(#[from] serde_json::Error),
}
