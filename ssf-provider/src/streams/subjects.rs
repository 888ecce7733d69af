//! Subjects added to or removed from a stream (SSF §8.1.3), and the filter emit() applies.
//!
//! A provider's `default_subjects` decides what rows mean:
//! * `NONE`: a stream covers only subjects added to it; a row (`included = true`) per added
//!   subject, and removing deletes it.
//! * `ALL`: a stream covers every subject except those removed; a row (`included = false`) per
//!   removed subject, and adding deletes it again.
//!
//! A subject is stored once per lookup key it can be found by: its own key, and for complex
//! and aliases subjects each member's key. An event's subject is looked up by the same keys,
//! then SSF §8.1.3.1 matching ([`SubjectId::matches`]) decides; so a receiver that added
//! `{"format":"complex","tenant":…}` is found by an event whose complex subject has that
//! tenant and a user.

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Set,
    TransactionTrait,
};
use serde::Deserialize;
use ssf_entities::DefaultSubjects;
use ssf_entities::stream_subjects::{self, ActiveModel, Column, Entity};

use super::{Caller, StreamError};
use crate::clock::now_ms;
use crate::set::{SetError, SubjectId};
use crate::transmitter::Transmitter;

/// Bounds the rows one stream can hold.
pub const MAX_SUBJECTS_PER_STREAM: u64 = 10_000;

/// Body of the add-subject and remove-subject endpoints.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SubjectRequest {
    pub stream_id: String,
    #[schema(value_type = Object)]
    pub subject: SubjectId,
    /// Add only: whether the receiver verified the subject (assumed when absent). Recorded
    /// nowhere: this transmitter treats both alike.
    #[serde(default)]
    pub verified: Option<bool>,
}

/// Every key `subject` can be found by.
fn keys_of(subject: &SubjectId) -> BTreeSet<String> {
    let mut keys = BTreeSet::from([subject.lookup_key()]);
    match subject {
        SubjectId::Complex(complex) => {
            keys.extend(complex.members().map(|(_, member)| member.lookup_key()))
        }
        SubjectId::Aliases(aliases) => {
            keys.extend(aliases.identifiers().iter().map(SubjectId::lookup_key))
        }
        _ => {}
    }
    keys
}

/// Rows of `stream_id` with `included` whose stored subject is exactly `subject`.
async fn rows_for<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    subject: &SubjectId,
    included: bool,
) -> Result<Vec<stream_subjects::Model>, StreamError> {
    let rows = Entity::find()
        .filter(Column::StreamId.eq(stream_id))
        .filter(Column::SubjectKey.is_in(keys_of(subject)))
        .filter(Column::Included.eq(included))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter(|row| {
            serde_json::from_str::<SubjectId>(&row.subject).is_ok_and(|stored| stored == *subject)
        })
        .collect())
}

async fn insert_rows<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    subject: &SubjectId,
    included: bool,
) -> Result<(), StreamError> {
    if !rows_for(conn, stream_id, subject, included)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let stored = Entity::find()
        .filter(Column::StreamId.eq(stream_id))
        .count(conn)
        .await?;
    if stored >= MAX_SUBJECTS_PER_STREAM {
        return Err(StreamError::Limit(format!(
            "a stream may list at most {MAX_SUBJECTS_PER_STREAM} subjects"
        )));
    }
    let json = serde_json::to_string(subject).map_err(SetError::Json)?;
    let now = now_ms();
    for key in keys_of(subject) {
        ActiveModel {
            stream_id: Set(stream_id.to_owned()),
            subject_key: Set(key),
            subject: Set(json.clone()),
            included: Set(included),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

async fn delete_rows<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    subject: &SubjectId,
    included: bool,
) -> Result<(), StreamError> {
    let ids: Vec<i64> = rows_for(conn, stream_id, subject, included)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect();
    if !ids.is_empty() {
        Entity::delete_many()
            .filter(Column::Id.is_in(ids))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Whether `subject` is the stream's own (opaque stream id), which is always covered and
/// cannot be removed (SSF §8.1.4.1).
fn is_stream_subject(stream_id: &str, subject: &SubjectId) -> bool {
    matches!(subject, SubjectId::Opaque { id } if id == stream_id)
}

/// Adds `subject` to the caller's stream (SSF §8.1.3.2).
pub async fn add_subject(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
    subject: &SubjectId,
) -> Result<(), StreamError> {
    let txn = transmitter.db().orm.begin().await?;
    let stream = super::find_owned(&txn, caller, stream_id).await?;
    super::touch(&txn, &stream.id).await?;
    if !is_stream_subject(&stream.id, subject) {
        match caller.provider.default_subjects {
            DefaultSubjects::None => insert_rows(&txn, &stream.id, subject, true).await?,
            DefaultSubjects::All => delete_rows(&txn, &stream.id, subject, false).await?,
        }
    }
    txn.commit().await?;
    Ok(())
}

/// Removes `subject` from the caller's stream (SSF §8.1.3.3).
pub async fn remove_subject(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
    subject: &SubjectId,
) -> Result<(), StreamError> {
    let txn = transmitter.db().orm.begin().await?;
    let stream = super::find_owned(&txn, caller, stream_id).await?;
    super::touch(&txn, &stream.id).await?;
    if is_stream_subject(&stream.id, subject) {
        return Err(StreamError::Invalid(
            "a stream's own subject cannot be removed from it".into(),
        ));
    }
    match caller.provider.default_subjects {
        DefaultSubjects::None => delete_rows(&txn, &stream.id, subject, true).await?,
        DefaultSubjects::All => insert_rows(&txn, &stream.id, subject, false).await?,
    }
    txn.commit().await?;
    Ok(())
}

/// Whether a stream of a provider with `default_subjects` covers an event about `subject`:
/// the subject filter of emit().
pub async fn covers_subject<C: ConnectionTrait>(
    conn: &C,
    default_subjects: DefaultSubjects,
    stream_id: &str,
    subject: &SubjectId,
) -> Result<bool, sea_orm::DbErr> {
    if is_stream_subject(stream_id, subject) {
        return Ok(true);
    }
    let included = default_subjects == DefaultSubjects::None;
    let rows = Entity::find()
        .filter(Column::StreamId.eq(stream_id))
        .filter(Column::SubjectKey.is_in(keys_of(subject)))
        .filter(Column::Included.eq(included))
        .all(conn)
        .await?;
    let listed = rows
        .iter()
        .filter_map(|row| serde_json::from_str::<SubjectId>(&row.subject).ok())
        .any(|stored| stored.matches(subject));
    // NONE: covered when listed as added; ALL: covered unless listed as removed.
    Ok(listed == included)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::ComplexSubject;

    #[test]
    fn complex_subjects_are_found_by_each_member() {
        let complex = SubjectId::Complex(
            ComplexSubject::builder()
                .tenant(SubjectId::opaque("t1"))
                .user(SubjectId::email("a@example.com"))
                .build()
                .unwrap(),
        );
        let keys = keys_of(&complex);
        assert!(keys.contains(&SubjectId::opaque("t1").lookup_key()));
        assert!(keys.contains(&SubjectId::email("a@example.com").lookup_key()));
        assert_eq!(keys_of(&SubjectId::email("A@example.com")).len(), 1);
    }
}
