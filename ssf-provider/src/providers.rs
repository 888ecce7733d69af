//! Providers: one transmitter configuration each, with its own issuer, keys, receivers and
//! streams. A server hosts many; the SSF API finds one by the slug in the request path.
//!
//! The issuer is `{public_url}/ssf/{slug}`, built by string concatenation from the configured
//! public URL and stored at creation, so it stays byte-identical to what receivers were given
//! (an explicit `:443` stays; no URL library normalises it).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, TransactionTrait,
};
use ssf_entities::providers::{ActiveModel, Column, Entity};
use ssf_entities::{DefaultSubjects, SigningAlg, SubjectFormat};

use crate::clock::now_ms;
use crate::db::Database;
use crate::jose::SigningKey;
use crate::signing_keys::{self, SigningKeyError};
use crate::transmitter::TransmitterSettings;

pub use ssf_entities::providers::Model;

const MAX_SLUG_LEN: usize = 48;
const MAX_NAME_LEN: usize = 200;

/// What an administrator chooses when creating a provider.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub name: String,
    /// Path segment of the issuer; derived from `name` when `None`.
    pub slug: Option<String>,
    pub signing_alg: SigningAlg,
    pub event_retention_seconds: i64,
    pub default_subjects: DefaultSubjects,
    pub subject_format: SubjectFormat,
    pub idp_issuer: Option<String>,
    pub verify_tls: bool,
    pub min_verification_interval_seconds: i64,
    pub inactivity_timeout_seconds: Option<i64>,
}

impl NewProvider {
    /// Defaults in the spirit of the CAEP interoperability profile: RS256, every subject
    /// covered, subjects named by email, a week of retention.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            slug: None,
            signing_alg: SigningAlg::RS256,
            event_retention_seconds: 7 * 24 * 3600,
            default_subjects: DefaultSubjects::All,
            subject_format: SubjectFormat::Email,
            idp_issuer: None,
            verify_tls: true,
            min_verification_interval_seconds: 30,
            inactivity_timeout_seconds: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("invalid provider: {0}")]
    Invalid(String),
    #[error("the slug {0:?} is already in use")]
    SlugTaken(String),
    #[error(transparent)]
    SigningKey(#[from] SigningKeyError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// The issuer of a provider with this slug: the public URL (without a trailing `/`) + `/ssf/{slug}`.
pub fn issuer_for(public_url: &str, slug: &str) -> String {
    format!("{}/ssf/{slug}", public_url.trim_end_matches('/'))
}

/// A slug is 1-48 characters of `a-z`, `0-9` and inner `-`: safe in a URL path as is.
pub fn validate_slug(slug: &str) -> Result<(), ProviderError> {
    let valid = !slug.is_empty()
        && slug.len() <= MAX_SLUG_LEN
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(ProviderError::Invalid(format!(
            "slug {slug:?} must be 1-{MAX_SLUG_LEN} characters of a-z, 0-9 and '-', not starting or ending with '-'"
        )))
    }
}

/// `"Acme SSO (prod)"` → `"acme-sso-prod"`.
fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= MAX_SLUG_LEN {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    if slug.is_empty() {
        "provider".to_owned()
    } else {
        slug
    }
}

fn validate(new: &NewProvider) -> Result<(), ProviderError> {
    let invalid = |m: &str| Err(ProviderError::Invalid(m.to_owned()));
    if new.name.trim().is_empty() || new.name.len() > MAX_NAME_LEN {
        return invalid("name must be 1-200 characters");
    }
    if new.event_retention_seconds <= 0 {
        return invalid("event_retention_seconds must be positive");
    }
    if new.min_verification_interval_seconds < 0 {
        return invalid("min_verification_interval_seconds must not be negative");
    }
    if new.inactivity_timeout_seconds.is_some_and(|t| t <= 0) {
        return invalid("inactivity_timeout_seconds must be positive");
    }
    if new.subject_format == SubjectFormat::IssSub
        && new.idp_issuer.as_deref().is_none_or(str::is_empty)
    {
        return invalid("subject_format iss_sub needs idp_issuer");
    }
    Ok(())
}

/// Creates a provider and its first signing key (a new one), in one transaction.
pub async fn create_provider(
    db: &Database,
    settings: &TransmitterSettings,
    new: NewProvider,
) -> Result<Model, ProviderError> {
    create(db, settings, new, None).await
}

/// Creates a provider whose first signing key is `key` (brought by the administrator), in
/// one transaction: the provider never exists with another key, and nothing is left behind
/// when any part fails. The key's algorithm must be the provider's.
pub async fn create_provider_with_key(
    db: &Database,
    settings: &TransmitterSettings,
    new: NewProvider,
    key: &SigningKey,
) -> Result<Model, ProviderError> {
    if key.alg() != new.signing_alg {
        return Err(ProviderError::Invalid(format!(
            "the signing key is for {:?}, the provider signs with {:?}",
            key.alg(),
            new.signing_alg
        )));
    }
    create(db, settings, new, Some(key)).await
}

async fn create(
    db: &Database,
    settings: &TransmitterSettings,
    new: NewProvider,
    key: Option<&SigningKey>,
) -> Result<Model, ProviderError> {
    validate(&new)?;
    let slug = match &new.slug {
        Some(slug) => {
            validate_slug(slug)?;
            if find_by_slug_any(&db.orm, slug).await?.is_some() {
                return Err(ProviderError::SlugTaken(slug.clone()));
            }
            slug.clone()
        }
        None => free_slug(&db.orm, &slug_from_name(&new.name)).await?,
    };
    let now = now_ms();
    let txn = db.orm.begin().await?;
    let provider = ActiveModel {
        id: Set(uuid::Uuid::new_v4().simple().to_string()),
        slug: Set(slug.clone()),
        name: Set(new.name.trim().to_owned()),
        issuer: Set(issuer_for(&settings.public_url, &slug)),
        signing_alg: Set(new.signing_alg),
        event_retention_seconds: Set(new.event_retention_seconds),
        default_subjects: Set(new.default_subjects),
        subject_format: Set(new.subject_format),
        idp_issuer: Set(new.idp_issuer.clone()),
        verify_tls: Set(new.verify_tls),
        min_verification_interval_seconds: Set(new.min_verification_interval_seconds),
        inactivity_timeout_seconds: Set(new.inactivity_timeout_seconds),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| match e.sql_err() {
        // Lost a race with another creation of the same slug.
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            ProviderError::SlugTaken(slug.clone())
        }
        _ => ProviderError::Db(e),
    })?;
    signing_keys::create_first_key(&txn, &provider, key).await?;
    txn.commit().await?;
    Ok(provider)
}

/// First of `base`, `base-2`, `base-3`, ... that no provider uses.
async fn free_slug<C: ConnectionTrait>(conn: &C, base: &str) -> Result<String, ProviderError> {
    for n in 1..1000 {
        let candidate = if n == 1 {
            base.to_owned()
        } else {
            let suffix = format!("-{n}");
            format!(
                "{}{suffix}",
                &base[..base.len().min(MAX_SLUG_LEN - suffix.len())]
            )
        };
        if find_by_slug_any(conn, &candidate).await?.is_none() {
            return Ok(candidate);
        }
    }
    Err(ProviderError::SlugTaken(base.to_owned()))
}

/// Any provider with this slug, deleted or not (slugs are never reused: old SETs name the issuer).
async fn find_by_slug_any<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> Result<Option<Model>, sea_orm::DbErr> {
    Entity::find().filter(Column::Slug.eq(slug)).one(conn).await
}

/// The live (not deleted) provider with this slug.
pub async fn find_by_slug<C: ConnectionTrait>(
    conn: &C,
    slug: &str,
) -> Result<Option<Model>, sea_orm::DbErr> {
    Entity::find()
        .filter(Column::Slug.eq(slug))
        .filter(Column::DeletedAt.is_null())
        .one(conn)
        .await
}

/// The live (not deleted) provider with this id.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Option<Model>, sea_orm::DbErr> {
    Entity::find_by_id(id.to_owned())
        .filter(Column::DeletedAt.is_null())
        .one(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_keeps_the_public_url_as_written() {
        assert_eq!(
            issuer_for("https://idp.example.com:443", "acme"),
            "https://idp.example.com:443/ssf/acme"
        );
        assert_eq!(
            issuer_for("https://idp.example.com/sso/", "acme"),
            "https://idp.example.com/sso/ssf/acme"
        );
    }

    #[test]
    fn slugs_from_names() {
        assert_eq!(slug_from_name("Acme SSO (prod)"), "acme-sso-prod");
        assert_eq!(slug_from_name("  ---  "), "provider");
        assert_eq!(slug_from_name(&"x".repeat(100)).len(), MAX_SLUG_LEN);
        assert!(validate_slug(&slug_from_name("Ünïcode Näme")).is_ok());
    }

    #[test]
    fn slug_rules() {
        assert!(validate_slug("acme-1").is_ok());
        for bad in ["", "-a", "a-", "A", "a/b", "a b", &"a".repeat(49)] {
            assert!(validate_slug(bad).is_err(), "{bad:?}");
        }
    }
}
