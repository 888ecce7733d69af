//! Event streams (SSF §8.1.1): their configuration rules, status machine, subjects,
//! verification and RFC 8936 poll.
//!
//! A stream belongs to one caller (a receiver of one provider, or a client the embedding IdP
//! authenticated); every function here takes the [`Caller`] and only ever finds that caller's
//! streams, so another receiver's stream id is "not found" and nothing of it changes.
//!
//! # Who supplies what
//!
//! Receivers supply `delivery`, `events_requested` and `description` (and, in the legacy RISC
//! dialect, `format`). Everything else is the transmitter's; a request may repeat it, and it
//! must then equal the current value (§8.1.1.3, §8.1.1.4):
//!
//! * `aud`: taken from the create request when the receiver sends one (the legacy RISC
//!   dialect, e.g. Apple Business Manager, does), otherwise the caller's default audience
//!   (the receiver's id, or the OAuth client id of an IdP token). Fixed afterwards.
//! * `events_delivered` = supported ∩ requested, in the order requested. Requested URIs this
//!   transmitter does not know are kept in `events_requested` and otherwise ignored.
//! * a poll stream's `endpoint_url` is `{issuer}/poll/{stream_id}`.
//!
//! # The push authorization header
//!
//! `delivery.authorization_header` is write-only: no read returns it. Because a receiver that
//! reads its configuration and writes it back cannot repeat a value it never saw, an update
//! whose `delivery` omits `authorization_header` keeps the stored one as long as the method
//! and `endpoint_url` are unchanged; a new endpoint never inherits the old secret; an explicit
//! `null` clears it. It is stored sealed under the at-rest key (`SSF_KEY_ENCRYPTION_KEY`) when
//! one is configured; the delivery worker opens it for each push.

pub mod delivery;
pub mod endpoint;
mod events;
pub mod poll;
pub mod status;
pub mod subjects;
pub mod verification;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Set, TransactionTrait,
};
use serde::{Deserialize, Deserializer, Serialize};
use ssf_entities::streams::{ActiveModel, Column, Entity};
use ssf_entities::{DeliveryMethod, EventStatus, StreamStatus, stream_events};

use crate::clock::now_ms;
use crate::providers;
use crate::set::{Audience, EventType, SetError};
use crate::signing_keys::SigningKeyError;
use crate::transmitter::Transmitter;
use delivery::DeliveryMethodUri;

pub use ssf_entities::streams::Model;
pub use status::{Initiator, pause_inactive, set_status};
pub use subjects::covers_subject;

const MAX_DESCRIPTION_CHARS: usize = 1024;
const MAX_EVENTS_REQUESTED: usize = 100;
const MAX_URI_LEN: usize = 512;
const MAX_FORMAT_LEN: usize = 64;
const MAX_AUTHORIZATION_HEADER_LEN: usize = 4096;
/// Bounds the rows one receiver can make the transmitter hold and fan out to.
pub const MAX_STREAMS_PER_OWNER: u64 = 64;

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("no such stream")]
    NotFound,
    #[error("{0}")]
    Invalid(String),
    /// A transmitter-supplied property in the request differs from the transmitter's value.
    #[error("{0}")]
    TransmitterSupplied(String),
    #[error("{0}")]
    UnsupportedDelivery(String),
    #[error("{0}")]
    InvalidEndpoint(String),
    #[error("{0}")]
    Limit(String),
    #[error("the stream is disabled")]
    Disabled,
    #[error("the stream is not delivered by poll")]
    NotPoll,
    #[error("too soon; retry after {retry_after_seconds} s")]
    TooSoon { retry_after_seconds: u64 },
    #[error(transparent)]
    SigningKey(#[from] SigningKeyError),
    #[error(transparent)]
    Set(#[from] SetError),
    #[error(transparent)]
    Dispatch(#[from] crate::dispatch::DispatchError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// The authenticated principal a request acts for.
#[derive(Debug, Clone)]
pub struct Caller {
    pub provider: providers::Model,
    /// Stable id of the principal; streams are visible to their owner only.
    pub owner: String,
    /// Set when the caller authenticated with a receiver token.
    pub receiver_id: Option<String>,
    /// `aud` of streams this caller creates without naming one.
    pub default_audience: String,
}

/// A stream configuration as a receiver sends it (create, update, replace). Unknown members
/// are ignored.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct StreamRequest {
    /// Required for update and replace; ignored on create.
    #[serde(default)]
    pub stream_id: Option<String>,
    #[serde(default)]
    pub delivery: Option<DeliveryRequest>,
    #[serde(default)]
    pub events_requested: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    /// Legacy RISC member naming the subject format the receiver wants; kept as sent.
    #[serde(default, deserialize_with = "present")]
    pub format: Option<Option<String>>,
    /// Transmitter-supplied; accepted on create (legacy dialect), must match afterwards.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub aud: Option<Audience>,
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub events_supported: Option<Vec<String>>,
    #[serde(default)]
    pub events_delivered: Option<Vec<String>>,
    #[serde(default)]
    pub min_verification_interval: Option<i64>,
    #[serde(default)]
    pub inactivity_timeout: Option<i64>,
}

/// `delivery` as a receiver sends it.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct DeliveryRequest {
    /// `urn:ietf:rfc:8935` (push) or `urn:ietf:rfc:8936` (poll); the legacy RISC URIs are
    /// accepted as aliases.
    #[serde(default)]
    pub method: Option<String>,
    /// Push: the receiver's endpoint. Poll: transmitter-supplied.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Push: sent verbatim as the `Authorization` header of every push. Write-only.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub authorization_header: Option<Option<String>>,
}

/// A stream configuration as the transmitter returns it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StreamConfiguration {
    pub stream_id: String,
    pub iss: String,
    #[schema(value_type = Object)]
    pub aud: Audience,
    pub delivery: DeliveryConfiguration,
    #[schema(value_type = Vec<String>)]
    pub events_supported: Vec<EventType>,
    pub events_requested: Vec<String>,
    #[schema(value_type = Vec<String>)]
    pub events_delivered: Vec<EventType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub min_verification_interval: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inactivity_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// `delivery` as the transmitter returns it: never the authorization header.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryConfiguration {
    /// The method URI as the receiver sent it.
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_url: Option<String>,
}

/// Distinguishes a member that is absent (`None`) from one that is `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// The event types this transmitter offers receivers (SSF's own verification and
/// stream-updated events are sent regardless and not listed).
pub fn supported_events() -> Vec<EventType> {
    EventType::ALL
        .iter()
        .copied()
        .filter(|t| !t.is_stream_event())
        .collect()
}

/// supported ∩ requested, in the order requested, without duplicates.
pub fn events_delivered(requested: &[String]) -> Vec<EventType> {
    let mut delivered = Vec::new();
    for uri in requested {
        if let Some(event_type) = EventType::from_uri(uri)
            && !event_type.is_stream_event()
            && !delivered.contains(&event_type)
        {
            delivered.push(event_type);
        }
    }
    delivered
}

/// The transmitter-assigned poll URL of a stream.
pub fn poll_endpoint(provider: &providers::Model, stream_id: &str) -> String {
    format!("{}/poll/{stream_id}", provider.issuer)
}

/// The configuration of `stream` as receivers see it.
pub fn configuration(
    provider: &providers::Model,
    stream: &Model,
) -> Result<StreamConfiguration, StreamError> {
    let aud: Audience = serde_json::from_str(&stream.aud).map_err(SetError::Json)?;
    let events_requested: Vec<String> =
        serde_json::from_str(&stream.events_requested).map_err(SetError::Json)?;
    Ok(StreamConfiguration {
        stream_id: stream.id.clone(),
        iss: provider.issuer.clone(),
        aud,
        delivery: DeliveryConfiguration {
            method: stream.delivery_method_uri.clone(),
            endpoint_url: stream.endpoint_url.clone(),
        },
        events_supported: supported_events(),
        events_delivered: events_delivered(&events_requested),
        events_requested,
        description: stream.description.clone(),
        min_verification_interval: provider.min_verification_interval_seconds,
        inactivity_timeout: provider.inactivity_timeout_seconds,
        format: stream.format.clone(),
    })
}

/// The delivery a request asks for, validated.
struct Delivery {
    method: DeliveryMethodUri,
    push_endpoint: Option<String>,
    /// `None`: not mentioned; `Some(None)`: cleared.
    authorization_header: Option<Option<String>>,
    /// A poll `endpoint_url` the receiver repeated (must equal ours on update).
    poll_endpoint: Option<String>,
}

fn parse_delivery(
    request: Option<DeliveryRequest>,
    allow_insecure: bool,
) -> Result<Delivery, StreamError> {
    let Some(request) = request else {
        // SSF §8.1.1.1: no delivery means poll.
        return Ok(Delivery {
            method: DeliveryMethodUri::Poll,
            push_endpoint: None,
            authorization_header: None,
            poll_endpoint: None,
        });
    };
    let uri = request
        .method
        .ok_or_else(|| StreamError::Invalid("delivery.method is required".into()))?;
    let method = DeliveryMethodUri::parse(&uri).ok_or_else(|| {
        StreamError::UnsupportedDelivery(format!(
            "unsupported delivery method {uri:?}; supported: {} and {}",
            delivery::PUSH_URI,
            delivery::POLL_URI
        ))
    })?;
    if let Some(Some(header)) = &request.authorization_header
        && (header.is_empty()
            || header.len() > MAX_AUTHORIZATION_HEADER_LEN
            || !header
                .bytes()
                .all(|b| b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        return Err(StreamError::Invalid(
            "delivery.authorization_header must be 1-4096 printable ASCII characters".into(),
        ));
    }
    match method.method() {
        DeliveryMethod::Push => {
            let url = request.endpoint_url.ok_or_else(|| {
                StreamError::Invalid("delivery.endpoint_url is required for push".into())
            })?;
            endpoint::check_push_endpoint(&url, allow_insecure)
                .map_err(|e| StreamError::InvalidEndpoint(e.0))?;
            Ok(Delivery {
                method,
                push_endpoint: Some(url),
                authorization_header: request.authorization_header,
                poll_endpoint: None,
            })
        }
        DeliveryMethod::Poll => {
            if matches!(request.authorization_header, Some(Some(_))) {
                return Err(StreamError::Invalid(
                    "delivery.authorization_header applies to push only".into(),
                ));
            }
            Ok(Delivery {
                method,
                push_endpoint: None,
                authorization_header: Some(None),
                poll_endpoint: request.endpoint_url,
            })
        }
    }
}

/// A push authorization header as stored: sealed under the at-rest key when one is configured.
fn seal_header(header: Option<String>) -> Result<Option<String>, StreamError> {
    let Some(header) = header else {
        return Ok(None);
    };
    let stored = crate::jose::vault::protect(crate::signing_keys::vault()?, &header)
        .map_err(|e| SigningKeyError::VaultConfig(e.to_string()))?;
    Ok(Some(stored.value))
}

fn validate_events_requested(events: &[String]) -> Result<(), StreamError> {
    if events.len() > MAX_EVENTS_REQUESTED {
        return Err(StreamError::Invalid(format!(
            "events_requested holds more than {MAX_EVENTS_REQUESTED} URIs"
        )));
    }
    if events
        .iter()
        .any(|uri| uri.is_empty() || uri.len() > MAX_URI_LEN)
    {
        return Err(StreamError::Invalid(
            "events_requested holds an empty or over-long URI".into(),
        ));
    }
    Ok(())
}

fn truncate_description(description: Option<String>) -> Option<String> {
    description.map(|d| match d.char_indices().nth(MAX_DESCRIPTION_CHARS) {
        Some((cut, _)) => d[..cut].to_owned(),
        None => d,
    })
}

fn validate_format(format: &Option<String>) -> Result<(), StreamError> {
    match format {
        Some(f) if f.is_empty() || f.len() > MAX_FORMAT_LEN => Err(StreamError::Invalid(format!(
            "format must be 1-{MAX_FORMAT_LEN} characters"
        ))),
        _ => Ok(()),
    }
}

fn validate_audience(aud: &Audience) -> Result<(), StreamError> {
    let valid =
        aud.iter().next().is_some() && aud.iter().all(|a| !a.is_empty() && a.len() <= MAX_URI_LEN);
    if valid {
        Ok(())
    } else {
        Err(StreamError::Invalid(
            "aud must be a non-empty string or array of non-empty strings".into(),
        ))
    }
}

fn same_set<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
}

/// §8.1.1.3/§8.1.1.4: transmitter-supplied properties present in an update must match.
fn check_transmitter_supplied(
    request: &StreamRequest,
    current: &StreamConfiguration,
) -> Result<(), StreamError> {
    let mismatch = |name: &str| {
        Err(StreamError::TransmitterSupplied(format!(
            "{name} is set by the transmitter and differs from its value"
        )))
    };
    if request.iss.as_ref().is_some_and(|iss| *iss != current.iss) {
        return mismatch("iss");
    }
    if let Some(aud) = &request.aud {
        let requested: Vec<&str> = aud.iter().collect();
        let actual: Vec<&str> = current.aud.iter().collect();
        if !same_set(&requested, &actual) {
            return mismatch("aud");
        }
    }
    let uris = |events: &[EventType]| {
        events
            .iter()
            .map(|e| e.uri().to_owned())
            .collect::<Vec<_>>()
    };
    if request
        .events_supported
        .as_ref()
        .is_some_and(|e| !same_set(e, &uris(&current.events_supported)))
    {
        return mismatch("events_supported");
    }
    if request
        .events_delivered
        .as_ref()
        .is_some_and(|e| !same_set(e, &uris(&current.events_delivered)))
    {
        return mismatch("events_delivered");
    }
    if request
        .min_verification_interval
        .is_some_and(|v| v != current.min_verification_interval)
    {
        return mismatch("min_verification_interval");
    }
    if request.inactivity_timeout.is_some()
        && request.inactivity_timeout != current.inactivity_timeout
    {
        return mismatch("inactivity_timeout");
    }
    Ok(())
}

/// Creates a stream for `caller` (SSF §8.1.1.1) and returns it.
pub async fn create(
    transmitter: &Transmitter,
    caller: &Caller,
    request: StreamRequest,
) -> Result<Model, StreamError> {
    let settings = transmitter.settings();
    let delivery = parse_delivery(request.delivery, settings.allow_insecure_endpoints)?;
    let events_requested = request.events_requested.unwrap_or_default();
    validate_events_requested(&events_requested)?;
    let format = request.format.flatten();
    validate_format(&format)?;
    let aud = match request.aud {
        Some(aud) => {
            validate_audience(&aud)?;
            aud
        }
        None => Audience::One(caller.default_audience.clone()),
    };
    let conn = &transmitter.db().orm;
    let owned = Entity::find()
        .filter(Column::ProviderId.eq(&caller.provider.id))
        .filter(Column::Owner.eq(&caller.owner))
        .count(conn)
        .await?;
    if owned >= MAX_STREAMS_PER_OWNER {
        return Err(StreamError::Limit(format!(
            "a receiver may have at most {MAX_STREAMS_PER_OWNER} streams"
        )));
    }

    let now = now_ms();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let endpoint_url = match delivery.method.method() {
        DeliveryMethod::Push => delivery.push_endpoint,
        DeliveryMethod::Poll => Some(poll_endpoint(&caller.provider, &id)),
    };
    let legacy = delivery.method.is_legacy();
    let txn = conn.begin().await?;
    let stream = ActiveModel {
        id: Set(id),
        provider_id: Set(caller.provider.id.clone()),
        receiver_id: Set(caller.receiver_id.clone()),
        owner: Set(caller.owner.clone()),
        aud: Set(serde_json::to_string(&aud).map_err(SetError::Json)?),
        delivery_method: Set(delivery.method.method()),
        delivery_method_uri: Set(delivery.method.uri().to_owned()),
        endpoint_url: Set(endpoint_url),
        authorization_header: Set(seal_header(delivery.authorization_header.flatten())?),
        format: Set(format),
        events_requested: Set(serde_json::to_string(&events_requested).map_err(SetError::Json)?),
        events_delivered: Set(
            serde_json::to_string(&events_delivered(&events_requested)).map_err(SetError::Json)?
        ),
        description: Set(truncate_description(request.description.flatten())),
        status: Set(StreamStatus::Enabled),
        status_reason: Set(None),
        subject_in_event: Set(legacy),
        last_verification_at: Set(None),
        last_activity_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    if legacy {
        // Receivers of the RISC dialect expect a verification event of the transmitter's
        // own accord after creating a stream; give them time to store the stream id first.
        events::record(
            &txn,
            &caller.provider,
            &stream,
            crate::set::SecurityEvent::verification(None),
            events::Timing::After(events::UNSOLICITED_VERIFICATION_DELAY_MS),
        )
        .await?;
        events::wake_in_tx(&txn, transmitter).await?;
    }
    txn.commit().await?;
    if legacy {
        events::wake(transmitter);
    }
    Ok(stream)
}

/// The caller's stream with this id.
pub async fn find_owned<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
    stream_id: &str,
) -> Result<Model, StreamError> {
    Entity::find_by_id(stream_id.to_owned())
        .filter(Column::ProviderId.eq(&caller.provider.id))
        .filter(Column::Owner.eq(&caller.owner))
        .one(conn)
        .await?
        .ok_or(StreamError::NotFound)
}

/// Every stream of the caller, oldest first.
pub async fn list_owned<C: ConnectionTrait>(
    conn: &C,
    caller: &Caller,
) -> Result<Vec<Model>, StreamError> {
    Ok(Entity::find()
        .filter(Column::ProviderId.eq(&caller.provider.id))
        .filter(Column::Owner.eq(&caller.owner))
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Id)
        .all(conn)
        .await?)
}

/// Records receiver activity on a stream (restarts its inactivity timeout).
pub async fn touch<C: ConnectionTrait>(conn: &C, stream_id: &str) -> Result<(), StreamError> {
    Entity::update_many()
        .col_expr(Column::LastActivityAt, Expr::value(now_ms()))
        .filter(Column::Id.eq(stream_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// How an update treats members the request leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// PATCH (§8.1.1.3): absent members stay as they are.
    Patch,
    /// PUT (§8.1.1.4): absent receiver-supplied members are removed.
    Replace,
}

/// Updates or replaces the caller's stream named by `request.stream_id`.
pub async fn update(
    transmitter: &Transmitter,
    caller: &Caller,
    request: StreamRequest,
    mode: UpdateMode,
) -> Result<Model, StreamError> {
    let stream_id = request
        .stream_id
        .clone()
        .ok_or_else(|| StreamError::Invalid("stream_id is required".into()))?;
    let conn = &transmitter.db().orm;
    let txn = conn.begin().await?;
    let current = find_owned(&txn, caller, &stream_id).await?;
    let current_config = configuration(&caller.provider, &current)?;
    check_transmitter_supplied(&request, &current_config)?;

    let now = now_ms();
    let mut active: ActiveModel = current.clone().into();
    let delivery_given = request.delivery.is_some();
    if delivery_given || mode == UpdateMode::Replace {
        let delivery = parse_delivery(
            request.delivery,
            transmitter.settings().allow_insecure_endpoints,
        )?;
        let method = delivery.method.method();
        let poll_url = poll_endpoint(&caller.provider, &current.id);
        if method == DeliveryMethod::Poll
            && delivery
                .poll_endpoint
                .as_ref()
                .is_some_and(|url| *url != poll_url)
        {
            return Err(StreamError::TransmitterSupplied(
                "a poll stream's endpoint_url is set by the transmitter and differs from its value"
                    .into(),
            ));
        }
        let endpoint_url = match method {
            DeliveryMethod::Push => delivery.push_endpoint,
            DeliveryMethod::Poll => Some(poll_url),
        };
        let same_target = method == current.delivery_method && endpoint_url == current.endpoint_url;
        let authorization_header = match delivery.authorization_header {
            Some(explicit) => seal_header(explicit)?,
            None if same_target => current.authorization_header.clone(),
            None => None,
        };
        if method != current.delivery_method {
            // Undelivered SETs follow the stream to its new method.
            stream_events::Entity::update_many()
                .col_expr(stream_events::Column::DeliveryMethod, Expr::value(method))
                .col_expr(
                    stream_events::Column::LeaseUntil,
                    Expr::value(Option::<i64>::None),
                )
                .col_expr(
                    stream_events::Column::LeasedBy,
                    Expr::value(Option::<String>::None),
                )
                .filter(stream_events::Column::StreamId.eq(&current.id))
                .filter(
                    stream_events::Column::Status.is_in([EventStatus::Pending, EventStatus::Held]),
                )
                .exec(&txn)
                .await?;
        }
        active.delivery_method = Set(method);
        active.delivery_method_uri = Set(delivery.method.uri().to_owned());
        active.endpoint_url = Set(endpoint_url);
        active.authorization_header = Set(authorization_header);
        active.subject_in_event = Set(delivery.method.is_legacy());
    }
    match (request.events_requested, mode) {
        (Some(events), _) => {
            validate_events_requested(&events)?;
            active.events_requested = Set(serde_json::to_string(&events).map_err(SetError::Json)?);
            active.events_delivered =
                Set(serde_json::to_string(&events_delivered(&events)).map_err(SetError::Json)?);
        }
        (None, UpdateMode::Replace) => {
            active.events_requested = Set("[]".to_owned());
            active.events_delivered = Set("[]".to_owned());
        }
        (None, UpdateMode::Patch) => {}
    }
    match (request.description, mode) {
        (Some(description), _) => active.description = Set(truncate_description(description)),
        (None, UpdateMode::Replace) => active.description = Set(None),
        (None, UpdateMode::Patch) => {}
    }
    match (request.format, mode) {
        (Some(format), _) => {
            validate_format(&format)?;
            active.format = Set(format);
        }
        (None, UpdateMode::Replace) => active.format = Set(None),
        (None, UpdateMode::Patch) => {}
    }
    active.updated_at = Set(now);
    active.last_activity_at = Set(now);
    let updated = active.update(&txn).await?;
    txn.commit().await?;
    Ok(updated)
}

/// Deletes the caller's stream with its subjects and undelivered SETs (§8.1.1.5).
pub async fn delete(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
) -> Result<(), StreamError> {
    let conn = &transmitter.db().orm;
    let result = Entity::delete_many()
        .filter(Column::Id.eq(stream_id))
        .filter(Column::ProviderId.eq(&caller.provider.id))
        .filter(Column::Owner.eq(&caller.owner))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Err(StreamError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_is_supported_intersect_requested_in_request_order() {
        let requested = vec![
            EventType::CredentialChange.uri().to_owned(),
            "urn:example:unknown".to_owned(),
            EventType::SessionRevoked.uri().to_owned(),
            EventType::CredentialChange.uri().to_owned(),
            EventType::Verification.uri().to_owned(),
        ];
        assert_eq!(
            events_delivered(&requested),
            vec![EventType::CredentialChange, EventType::SessionRevoked]
        );
    }

    #[test]
    fn missing_delivery_means_poll() {
        let delivery = parse_delivery(None, false).unwrap();
        assert_eq!(delivery.method, DeliveryMethodUri::Poll);
    }

    #[test]
    fn push_needs_a_safe_endpoint() {
        let push = |url: Option<&str>| DeliveryRequest {
            method: Some(delivery::PUSH_URI.into()),
            endpoint_url: url.map(str::to_owned),
            authorization_header: None,
        };
        assert!(matches!(
            parse_delivery(Some(push(None)), false),
            Err(StreamError::Invalid(_))
        ));
        assert!(matches!(
            parse_delivery(Some(push(Some("https://10.0.0.1/x"))), false),
            Err(StreamError::InvalidEndpoint(_))
        ));
        assert!(parse_delivery(Some(push(Some("https://rp.example.com/x"))), false).is_ok());
        let unknown = DeliveryRequest {
            method: Some("urn:example:carrier-pigeon".into()),
            ..Default::default()
        };
        assert!(matches!(
            parse_delivery(Some(unknown), false),
            Err(StreamError::UnsupportedDelivery(_))
        ));
    }

    #[test]
    fn header_values_with_line_breaks_are_refused() {
        let request = DeliveryRequest {
            method: Some(delivery::PUSH_URI.into()),
            endpoint_url: Some("https://rp.example.com/x".into()),
            authorization_header: Some(Some("Bearer a\r\nX-Evil: 1".into())),
        };
        assert!(matches!(
            parse_delivery(Some(request), false),
            Err(StreamError::Invalid(_))
        ));
    }

    #[test]
    fn descriptions_are_truncated_on_a_char_boundary() {
        let long = "é".repeat(MAX_DESCRIPTION_CHARS + 10);
        assert_eq!(
            truncate_description(Some(long)).unwrap().chars().count(),
            MAX_DESCRIPTION_CHARS
        );
    }
}
