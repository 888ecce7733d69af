//! Provider configuration as an administrator sees it: the fields of authentik's SSF provider
//! form (name, signing key, event retention, certificate verification, ...), validated field
//! by field, on top of [`crate::providers`].
//!
//! * The slug and issuer never change: receivers compare the issuer byte for byte and SETs
//!   already delivered name it. A deleted provider's slug is never given out again.
//! * Changing `signing_alg` rotates the signing key at once (the old key keeps verifying for
//!   the provider's event retention).
//! * Changing `event_retention_seconds` applies to events recorded from then on.
//! * `default_subjects` changes the meaning of every subject a receiver added or removed, so it
//!   is fixed once the provider has streams.
//! * Deleting a provider disables its streams (their undelivered SETs expire at once and stay
//!   visible to operators until purged), revokes its receivers, and takes its discovery
//!   document and JWKS offline. No stream-updated SET is sent: with the JWKS gone the receiver
//!   could not verify it.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde::{Deserialize, Deserializer, Serialize};
use ssf_entities::{
    DefaultSubjects, EventStatus, KeyState, SigningAlg, StreamStatus, SubjectFormat,
};
use ssf_entities::{
    receivers as receiver_rows, signing_keys as key_rows, stream_events, streams as stream_rows,
};

use super::audit::{self, Actor, Target};
use super::{AdminError, time};
use crate::clock::now_ms;
use crate::db::Database;
use crate::jose::SigningKey;
use crate::providers::{self, Model, NewProvider, ProviderError};
use crate::signing_keys;
use crate::streams::{Initiator, set_status};
use crate::transmitter::TransmitterSettings;

/// Event retention when the administrator does not choose one.
pub const DEFAULT_EVENT_RETENTION_SECONDS: i64 = 30 * 24 * 3600;
/// Longest event retention: a year keeps `expires_at` arithmetic far from overflow and the
/// table from growing without bound.
pub const MAX_EVENT_RETENTION_SECONDS: i64 = 365 * 24 * 3600;
const MAX_NAME_CHARS: usize = 200;
const MAX_VERIFICATION_INTERVAL_SECONDS: i64 = 24 * 3600;
const MAX_INACTIVITY_TIMEOUT_SECONDS: i64 = 365 * 24 * 3600;
const MAX_ISSUER_LEN: usize = 512;
/// A 4096-bit RSA key in PEM is about 3.3 KB.
const MAX_PEM_BYTES: usize = 16 * 1024;
/// Reason recorded on the streams of a deleted provider.
pub const PROVIDER_DELETED_REASON: &str = "provider deleted";

/// A new provider as the administrator describes it.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProvider {
    /// Shown to administrators; 1-200 characters.
    pub name: String,
    /// Last segment of the issuer (`{public_url}/ssf/{slug}`): 1-48 of `a-z`, `0-9`, inner `-`.
    /// Derived from the name when absent.
    #[serde(default)]
    pub slug: Option<String>,
    /// `RS256` (default), `PS256`, `ES256` or `EdDSA`.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "RS256")]
    pub signing_alg: Option<SigningAlg>,
    /// How long an undelivered SET is kept (and retried); default 30 days, at most a year.
    #[serde(default)]
    pub event_retention_seconds: Option<i64>,
    /// `ALL` (default): streams cover every subject unless removed; `NONE`: only those added.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "ALL")]
    pub default_subjects: Option<DefaultSubjects>,
    /// `email` (default) or `iss_sub` (needs `idp_issuer`).
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "email")]
    pub subject_format: Option<SubjectFormat>,
    /// The IdP's own OpenID issuer, for `iss_sub` subjects.
    #[serde(default)]
    pub idp_issuer: Option<String>,
    /// Verify receivers' TLS certificates on push (default true).
    #[serde(default)]
    pub verify_tls: Option<bool>,
    /// Least time between two verification requests of a stream (default 30 s).
    #[serde(default)]
    pub min_verification_interval_seconds: Option<i64>,
    /// Pause streams whose receiver was inactive this long (default: never).
    #[serde(default)]
    pub inactivity_timeout_seconds: Option<i64>,
    /// Import this private key (PKCS#8 or traditional PEM, unencrypted, fitting `signing_alg`)
    /// instead of generating one. Write-only.
    #[serde(default)]
    pub private_key_pem: Option<String>,
}

// Hand-written so an imported private key never reaches a log line.
impl std::fmt::Debug for CreateProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateProvider")
            .field("name", &self.name)
            .field("slug", &self.slug)
            .field("signing_alg", &self.signing_alg)
            .field(
                "private_key_pem",
                &self.private_key_pem.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

impl CreateProvider {
    /// A request with every optional field at its default.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            slug: None,
            signing_alg: None,
            event_retention_seconds: None,
            default_subjects: None,
            subject_format: None,
            idp_issuer: None,
            verify_tls: None,
            min_verification_interval_seconds: None,
            inactivity_timeout_seconds: None,
            private_key_pem: None,
        }
    }
}

/// Changes to a provider; absent members stay as they are.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderChanges {
    #[serde(default)]
    pub name: Option<String>,
    /// Accepted only when equal to the current slug: the issuer never changes.
    #[serde(default)]
    pub slug: Option<String>,
    /// A new algorithm rotates the signing key at once.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "ES256")]
    pub signing_alg: Option<SigningAlg>,
    #[serde(default)]
    pub event_retention_seconds: Option<i64>,
    /// Fixed once the provider has streams.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "ALL")]
    pub default_subjects: Option<DefaultSubjects>,
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "email")]
    pub subject_format: Option<SubjectFormat>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub idp_issuer: Option<Option<String>>,
    #[serde(default)]
    pub verify_tls: Option<bool>,
    #[serde(default)]
    pub min_verification_interval_seconds: Option<i64>,
    /// `null`: never pause streams for inactivity.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub inactivity_timeout_seconds: Option<Option<i64>>,
}

/// Distinguishes an absent member (`None`) from `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A provider as administrators see it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProviderView {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// The `iss` of every SET; give it to receivers.
    pub issuer: String,
    /// Where receivers discover the transmitter (SSF §7.2).
    pub configuration_url: String,
    pub jwks_uri: String,
    #[schema(value_type = String, example = "RS256")]
    pub signing_alg: SigningAlg,
    /// Key id of the key signing new SETs.
    pub active_kid: Option<String>,
    pub event_retention_seconds: i64,
    #[schema(value_type = String, example = "ALL")]
    pub default_subjects: DefaultSubjects,
    #[schema(value_type = String, example = "email")]
    pub subject_format: SubjectFormat,
    pub idp_issuer: Option<String>,
    pub verify_tls: bool,
    pub min_verification_interval_seconds: i64,
    pub inactivity_timeout_seconds: Option<i64>,
    /// Receivers that are not revoked.
    pub receivers: u64,
    pub streams: u64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// What deleting a provider did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeletedProvider {
    pub id: String,
    pub streams_disabled: u64,
    /// Pending and held SETs that will never be delivered.
    pub events_expired: u64,
    pub receivers_revoked: u64,
}

fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::invalid(
            "name",
            format!("must be 1-{MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_retention(seconds: i64) -> Result<i64, AdminError> {
    if !(1..=MAX_EVENT_RETENTION_SECONDS).contains(&seconds) {
        return Err(AdminError::invalid(
            "event_retention_seconds",
            format!("must be between 1 and {MAX_EVENT_RETENTION_SECONDS} (a year)"),
        ));
    }
    Ok(seconds)
}

fn check_verification_interval(seconds: i64) -> Result<i64, AdminError> {
    if !(0..=MAX_VERIFICATION_INTERVAL_SECONDS).contains(&seconds) {
        return Err(AdminError::invalid(
            "min_verification_interval_seconds",
            format!("must be between 0 and {MAX_VERIFICATION_INTERVAL_SECONDS}"),
        ));
    }
    Ok(seconds)
}

fn check_inactivity_timeout(seconds: Option<i64>) -> Result<Option<i64>, AdminError> {
    match seconds {
        Some(s) if !(1..=MAX_INACTIVITY_TIMEOUT_SECONDS).contains(&s) => Err(AdminError::invalid(
            "inactivity_timeout_seconds",
            format!("must be between 1 and {MAX_INACTIVITY_TIMEOUT_SECONDS}, or null for never"),
        )),
        other => Ok(other),
    }
}

fn check_idp_issuer(issuer: Option<String>) -> Result<Option<String>, AdminError> {
    let Some(issuer) = issuer.map(|i| i.trim().to_owned()) else {
        return Ok(None);
    };
    let valid = issuer.len() <= MAX_ISSUER_LEN
        && (issuer.starts_with("https://") || issuer.starts_with("http://"))
        && url::Url::parse(&issuer).is_ok_and(|u| u.host().is_some());
    if !valid {
        return Err(AdminError::invalid(
            "idp_issuer",
            format!("must be an http(s) URL of at most {MAX_ISSUER_LEN} characters"),
        ));
    }
    Ok(Some(issuer))
}

fn check_subject_format(
    format: SubjectFormat,
    idp_issuer: &Option<String>,
) -> Result<(), AdminError> {
    if format == SubjectFormat::IssSub && idp_issuer.is_none() {
        return Err(AdminError::invalid(
            "idp_issuer",
            "is required when subject_format is iss_sub",
        ));
    }
    Ok(())
}

fn import_key(pem: &str, alg: SigningAlg) -> Result<SigningKey, AdminError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(AdminError::invalid(
            "private_key_pem",
            format!("is longer than {MAX_PEM_BYTES} bytes"),
        ));
    }
    // The error says what is wrong with the key (type, size, format), never what it holds.
    SigningKey::from_pem(pem.as_bytes(), alg)
        .map_err(|e| AdminError::invalid("private_key_pem", e.to_string()))
}

/// Validates a creation request field by field; returns what `providers::create_provider`
/// takes and the imported key, if any.
fn validate_create(
    request: CreateProvider,
) -> Result<(NewProvider, Option<SigningKey>), AdminError> {
    let mut new = NewProvider::new(check_name(&request.name)?);
    if let Some(slug) = request.slug {
        providers::validate_slug(&slug).map_err(|_| {
            AdminError::invalid(
                "slug",
                "must be 1-48 characters of a-z, 0-9 and '-', not starting or ending with '-'",
            )
        })?;
        new.slug = Some(slug);
    }
    new.signing_alg = request.signing_alg.unwrap_or(SigningAlg::RS256);
    new.event_retention_seconds = check_retention(
        request
            .event_retention_seconds
            .unwrap_or(DEFAULT_EVENT_RETENTION_SECONDS),
    )?;
    new.default_subjects = request.default_subjects.unwrap_or(DefaultSubjects::All);
    new.subject_format = request.subject_format.unwrap_or(SubjectFormat::Email);
    new.idp_issuer = check_idp_issuer(request.idp_issuer)?;
    check_subject_format(new.subject_format, &new.idp_issuer)?;
    new.verify_tls = request.verify_tls.unwrap_or(true);
    if let Some(interval) = request.min_verification_interval_seconds {
        new.min_verification_interval_seconds = check_verification_interval(interval)?;
    }
    new.inactivity_timeout_seconds = check_inactivity_timeout(request.inactivity_timeout_seconds)?;
    let key = request
        .private_key_pem
        .as_deref()
        .map(|pem| import_key(pem, new.signing_alg))
        .transpose()?;
    Ok((new, key))
}

/// Creates a provider with a generated signing key, or with the one in the request.
pub async fn create(
    db: &Database,
    settings: &TransmitterSettings,
    actor: &Actor,
    request: CreateProvider,
) -> Result<ProviderView, AdminError> {
    let (new, imported) = validate_create(request)?;
    let imported_kid = imported.as_ref().map(|k| k.kid().to_owned());
    let created = match &imported {
        Some(key) => providers::create_provider_with_key(db, settings, new, key).await,
        None => providers::create_provider(db, settings, new).await,
    };
    let provider = created.map_err(|e| match e {
        ProviderError::SlugTaken(slug) => {
            AdminError::conflict("slug_taken", format!("slug: {slug:?} is already in use"))
        }
        other => other.into(),
    })?;
    let detail = format!(
        "slug={} alg={:?} retention_s={} key={}",
        provider.slug,
        provider.signing_alg,
        provider.event_retention_seconds,
        if imported_kid.is_some() {
            "imported"
        } else {
            "generated"
        }
    );
    let view = view(&db.orm, provider).await?;
    audit::record(
        actor,
        "provider.create",
        Target {
            kid: view.active_kid.as_deref(),
            ..Target::provider(&view.id)
        },
        &detail,
    );
    Ok(view)
}

/// The live provider with this id.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Model, AdminError> {
    providers::find(conn, id)
        .await?
        .ok_or(AdminError::NotFound("provider"))
}

/// The live provider with this id or, failing that, this slug (for the command line).
pub async fn find_by_id_or_slug<C: ConnectionTrait>(
    conn: &C,
    id_or_slug: &str,
) -> Result<Model, AdminError> {
    if let Some(provider) = providers::find(conn, id_or_slug).await? {
        return Ok(provider);
    }
    providers::find_by_slug(conn, id_or_slug)
        .await?
        .ok_or(AdminError::NotFound("provider"))
}

/// One provider's view.
pub async fn get<C: ConnectionTrait>(conn: &C, id: &str) -> Result<ProviderView, AdminError> {
    let provider = find(conn, id).await?;
    view(conn, provider).await
}

/// Every live provider, oldest first.
pub async fn list<C: ConnectionTrait>(conn: &C) -> Result<Vec<ProviderView>, AdminError> {
    let all = ssf_entities::providers::Entity::find()
        .filter(ssf_entities::providers::Column::DeletedAt.is_null())
        .order_by_asc(ssf_entities::providers::Column::CreatedAt)
        .order_by_asc(ssf_entities::providers::Column::Id)
        .all(conn)
        .await?;
    let mut views = Vec::with_capacity(all.len());
    for provider in all {
        views.push(view(conn, provider).await?);
    }
    Ok(views)
}

async fn view<C: ConnectionTrait>(conn: &C, provider: Model) -> Result<ProviderView, AdminError> {
    let active_kid: Option<String> = key_rows::Entity::find()
        .select_only()
        .column(key_rows::Column::Kid)
        .filter(key_rows::Column::ProviderId.eq(&provider.id))
        .filter(key_rows::Column::State.eq(KeyState::Active))
        .order_by_desc(key_rows::Column::CreatedAt)
        .into_tuple()
        .one(conn)
        .await?;
    let receivers = receiver_rows::Entity::find()
        .filter(receiver_rows::Column::ProviderId.eq(&provider.id))
        .filter(receiver_rows::Column::RevokedAt.is_null())
        .count(conn)
        .await?;
    let streams = stream_rows::Entity::find()
        .filter(stream_rows::Column::ProviderId.eq(&provider.id))
        .count(conn)
        .await?;
    Ok(ProviderView {
        configuration_url: crate::http::discovery::configuration_url(&provider.issuer),
        jwks_uri: format!("{}/jwks.json", provider.issuer),
        id: provider.id,
        slug: provider.slug,
        name: provider.name,
        issuer: provider.issuer,
        signing_alg: provider.signing_alg,
        active_kid,
        event_retention_seconds: provider.event_retention_seconds,
        default_subjects: provider.default_subjects,
        subject_format: provider.subject_format,
        idp_issuer: provider.idp_issuer,
        verify_tls: provider.verify_tls,
        min_verification_interval_seconds: provider.min_verification_interval_seconds,
        inactivity_timeout_seconds: provider.inactivity_timeout_seconds,
        receivers,
        streams,
        created_at: time(provider.created_at),
        updated_at: time(provider.updated_at),
    })
}

/// Applies `changes` to the live provider `id`.
pub async fn update(
    db: &Database,
    actor: &Actor,
    id: &str,
    changes: ProviderChanges,
) -> Result<ProviderView, AdminError> {
    let txn = super::begin_write(&db.orm).await?;
    let current = find(&txn, id).await?;
    let mut changed: Vec<&'static str> = Vec::new();
    let mut active: ssf_entities::providers::ActiveModel = current.clone().into();

    if let Some(slug) = &changes.slug
        && *slug != current.slug
    {
        return Err(AdminError::invalid(
            "slug",
            "cannot be changed: receivers know the provider by its issuer",
        ));
    }
    if let Some(name) = &changes.name {
        active.name = Set(check_name(name)?);
        changed.push("name");
    }
    if let Some(retention) = changes.event_retention_seconds {
        active.event_retention_seconds = Set(check_retention(retention)?);
        changed.push("event_retention_seconds");
    }
    if let Some(default_subjects) = changes.default_subjects
        && default_subjects != current.default_subjects
    {
        let streams = stream_rows::Entity::find()
            .filter(stream_rows::Column::ProviderId.eq(&current.id))
            .count(&txn)
            .await?;
        if streams > 0 {
            return Err(AdminError::invalid(
                "default_subjects",
                "cannot be changed while the provider has streams: it would invert the meaning of their subjects",
            ));
        }
        active.default_subjects = Set(default_subjects);
        changed.push("default_subjects");
    }
    let idp_issuer = match changes.idp_issuer {
        Some(issuer) => {
            changed.push("idp_issuer");
            check_idp_issuer(issuer)?
        }
        None => current.idp_issuer.clone(),
    };
    active.idp_issuer = Set(idp_issuer.clone());
    let subject_format = changes.subject_format.unwrap_or(current.subject_format);
    if changes.subject_format.is_some() {
        changed.push("subject_format");
    }
    check_subject_format(subject_format, &idp_issuer)?;
    active.subject_format = Set(subject_format);
    if let Some(verify_tls) = changes.verify_tls {
        active.verify_tls = Set(verify_tls);
        changed.push("verify_tls");
    }
    if let Some(interval) = changes.min_verification_interval_seconds {
        active.min_verification_interval_seconds = Set(check_verification_interval(interval)?);
        changed.push("min_verification_interval_seconds");
    }
    if let Some(timeout) = changes.inactivity_timeout_seconds {
        active.inactivity_timeout_seconds = Set(check_inactivity_timeout(timeout)?);
        changed.push("inactivity_timeout_seconds");
    }
    let new_alg = changes
        .signing_alg
        .filter(|alg| *alg != current.signing_alg);
    if let Some(alg) = new_alg {
        active.signing_alg = Set(alg);
        changed.push("signing_alg");
    }
    active.updated_at = Set(now_ms());
    let updated = active.update(&txn).await?;
    let mut rotated_kid = None;
    if new_alg.is_some() {
        let grace = std::time::Duration::from_secs(
            u64::try_from(updated.event_retention_seconds).unwrap_or(0),
        );
        rotated_kid = Some(signing_keys::rotate(&txn, &updated, grace).await?.kid);
    }
    txn.commit().await?;
    audit::record(
        actor,
        "provider.update",
        Target {
            kid: rotated_kid.as_deref(),
            ..Target::provider(&updated.id)
        },
        &format!("changed={}", changed.join(",")),
    );
    view(&db.orm, updated).await
}

/// Deletes the live provider `id` (see the module documentation for what that means).
pub async fn delete(db: &Database, actor: &Actor, id: &str) -> Result<DeletedProvider, AdminError> {
    let txn = super::begin_write(&db.orm).await?;
    let provider = find(&txn, id).await?;
    let now = now_ms();
    let claimed = ssf_entities::providers::Entity::update_many()
        .col_expr(ssf_entities::providers::Column::DeletedAt, Expr::value(now))
        .col_expr(ssf_entities::providers::Column::UpdatedAt, Expr::value(now))
        .filter(ssf_entities::providers::Column::Id.eq(&provider.id))
        .filter(ssf_entities::providers::Column::DeletedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(AdminError::NotFound("provider"));
    }
    let live_streams = stream_rows::Entity::find()
        .filter(stream_rows::Column::ProviderId.eq(&provider.id))
        .filter(stream_rows::Column::Status.ne(StreamStatus::Disabled))
        .all(&txn)
        .await?;
    let events_expired = stream_events::Entity::find()
        .filter(stream_events::Column::StreamId.is_in(live_streams.iter().map(|s| s.id.as_str())))
        .filter(stream_events::Column::Status.is_in([EventStatus::Pending, EventStatus::Held]))
        .count(&txn)
        .await?;
    for stream in &live_streams {
        set_status(
            &txn,
            &provider,
            stream,
            StreamStatus::Disabled,
            Some(PROVIDER_DELETED_REASON.to_owned()),
            Initiator::Receiver,
        )
        .await?;
    }
    let revoked = receiver_rows::Entity::update_many()
        .col_expr(receiver_rows::Column::RevokedAt, Expr::value(now))
        .filter(receiver_rows::Column::ProviderId.eq(&provider.id))
        .filter(receiver_rows::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    let deleted = DeletedProvider {
        id: provider.id,
        streams_disabled: live_streams.len() as u64,
        events_expired,
        receivers_revoked: revoked.rows_affected,
    };
    audit::record(
        actor,
        "provider.delete",
        Target::provider(&deleted.id),
        &format!(
            "slug={} streams_disabled={} events_expired={} receivers_revoked={}",
            provider.slug,
            deleted.streams_disabled,
            deleted.events_expired,
            deleted.receivers_revoked
        ),
    );
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<(NewProvider, Option<SigningKey>), AdminError>) -> &'static str {
        match result {
            Err(AdminError::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {:?}", other.map(|(n, _)| n)),
        }
    }

    #[test]
    fn defaults_follow_the_admin_form() {
        let (new, key) = validate_create(CreateProvider::named("Acme")).unwrap();
        assert_eq!(new.signing_alg, SigningAlg::RS256);
        assert_eq!(new.event_retention_seconds, DEFAULT_EVENT_RETENTION_SECONDS);
        assert_eq!(new.default_subjects, DefaultSubjects::All);
        assert!(new.verify_tls);
        assert!(key.is_none());
    }

    #[test]
    fn each_invalid_field_is_named() {
        let with = |f: fn(&mut CreateProvider)| {
            let mut request = CreateProvider::named("Acme");
            f(&mut request);
            validate_create(request)
        };
        assert_eq!(field_of(with(|r| r.name = " ".into())), "name");
        assert_eq!(
            field_of(with(|r| r.slug = Some("Not A Slug".into()))),
            "slug"
        );
        assert_eq!(
            field_of(with(|r| r.event_retention_seconds = Some(0))),
            "event_retention_seconds"
        );
        assert_eq!(
            field_of(with(|r| r.event_retention_seconds = Some(i64::MAX))),
            "event_retention_seconds"
        );
        assert_eq!(
            field_of(with(|r| r.min_verification_interval_seconds = Some(-1))),
            "min_verification_interval_seconds"
        );
        assert_eq!(
            field_of(with(|r| r.inactivity_timeout_seconds = Some(0))),
            "inactivity_timeout_seconds"
        );
        assert_eq!(
            field_of(with(|r| r.subject_format = Some(SubjectFormat::IssSub))),
            "idp_issuer"
        );
        assert_eq!(
            field_of(with(|r| r.idp_issuer = Some("not a url".into()))),
            "idp_issuer"
        );
        assert_eq!(
            field_of(with(
                |r| r.private_key_pem = Some("-----BEGIN PRIVATE KEY-----\nAAAA\n".into())
            )),
            "private_key_pem"
        );
    }

    #[test]
    fn an_imported_key_must_fit_the_algorithm() {
        let ec = SigningKey::generate(SigningAlg::ES256)
            .unwrap()
            .to_pem()
            .unwrap();
        let mut request = CreateProvider::named("Acme");
        request.private_key_pem = Some(ec.clone());
        assert_eq!(field_of(validate_create(request)), "private_key_pem");
        let mut request = CreateProvider::named("Acme");
        request.signing_alg = Some(SigningAlg::ES256);
        request.private_key_pem = Some(ec);
        let (_, key) = validate_create(request).unwrap();
        assert_eq!(key.unwrap().alg(), SigningAlg::ES256);
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let mut request = CreateProvider::named("Acme");
        request.private_key_pem = Some("-----BEGIN PRIVATE KEY-----secret".into());
        assert!(!format!("{request:?}").contains("secret"));
    }
}
