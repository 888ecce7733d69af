use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Providers::Table)
                    .if_not_exists()
                    .col(string(Providers::Id).primary_key())
                    .col(string_uniq(Providers::Slug))
                    .col(string(Providers::Name))
                    .col(string(Providers::Issuer))
                    .col(string_len(Providers::SigningAlg, 8))
                    .col(big_integer(Providers::EventRetentionSeconds))
                    .col(string_len(Providers::DefaultSubjects, 8))
                    .col(string_len(Providers::SubjectFormat, 16))
                    .col(string_null(Providers::IdpIssuer))
                    .col(boolean(Providers::VerifyTls))
                    .col(big_integer(Providers::MinVerificationIntervalSeconds))
                    .col(big_integer_null(Providers::InactivityTimeoutSeconds))
                    .col(big_integer(Providers::CreatedAt))
                    .col(big_integer(Providers::UpdatedAt))
                    .col(big_integer_null(Providers::DeletedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SigningKeys::Table)
                    .if_not_exists()
                    .col(string(SigningKeys::Id).primary_key())
                    .col(string(SigningKeys::ProviderId))
                    .col(string(SigningKeys::Kid))
                    .col(string_len(SigningKeys::Alg, 8))
                    .col(text(SigningKeys::PrivateKey))
                    .col(string_null(SigningKeys::EncryptionKeyId))
                    .col(text(SigningKeys::PublicJwk))
                    .col(string_len(SigningKeys::State, 16))
                    .col(big_integer(SigningKeys::CreatedAt))
                    .col(big_integer_null(SigningKeys::RetiringSince))
                    .col(big_integer_null(SigningKeys::RetireAfter))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SigningKeys::Table, SigningKeys::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_signing_keys_provider",
            SigningKeys::Table,
            &[SigningKeys::ProviderId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Receivers::Table)
                    .if_not_exists()
                    .col(string(Receivers::Id).primary_key())
                    .col(string(Receivers::ProviderId))
                    .col(string(Receivers::Name))
                    .col(string_uniq(Receivers::TokenHash))
                    .col(big_integer(Receivers::CreatedAt))
                    .col(big_integer_null(Receivers::RevokedAt))
                    .col(big_integer_null(Receivers::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Receivers::Table, Receivers::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_receivers_provider",
            Receivers::Table,
            &[Receivers::ProviderId],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Streams::Table)
                    .if_not_exists()
                    .col(string(Streams::Id).primary_key())
                    .col(string(Streams::ProviderId))
                    .col(string_null(Streams::ReceiverId))
                    .col(string(Streams::Owner))
                    .col(text(Streams::Aud))
                    .col(string_len(Streams::DeliveryMethod, 8))
                    .col(string(Streams::DeliveryMethodUri))
                    .col(text_null(Streams::EndpointUrl))
                    .col(text_null(Streams::AuthorizationHeader))
                    .col(string_null(Streams::Format))
                    .col(text(Streams::EventsRequested))
                    .col(text(Streams::EventsDelivered))
                    .col(text_null(Streams::Description))
                    .col(string_len(Streams::Status, 16))
                    .col(text_null(Streams::StatusReason))
                    .col(boolean(Streams::SubjectInEvent))
                    .col(big_integer_null(Streams::LastVerificationAt))
                    .col(big_integer(Streams::LastActivityAt))
                    .col(big_integer(Streams::CreatedAt))
                    .col(big_integer(Streams::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Streams::Table, Streams::ProviderId)
                            .to(Providers::Table, Providers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Streams::Table, Streams::ReceiverId)
                            .to(Receivers::Table, Receivers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // emit(): the provider's streams in a given status.
        index(
            manager,
            "idx_streams_provider_status",
            Streams::Table,
            &[Streams::ProviderId, Streams::Status],
        )
        .await?;
        index(
            manager,
            "idx_streams_owner",
            Streams::Table,
            &[Streams::Owner],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StreamSubjects::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StreamSubjects::Id))
                    .col(string(StreamSubjects::StreamId))
                    .col(string(StreamSubjects::SubjectKey))
                    .col(text(StreamSubjects::Subject))
                    .col(boolean(StreamSubjects::Included))
                    .col(big_integer(StreamSubjects::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StreamSubjects::Table, StreamSubjects::StreamId)
                            .to(Streams::Table, Streams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_stream_subjects_lookup",
            StreamSubjects::Table,
            &[StreamSubjects::StreamId, StreamSubjects::SubjectKey],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(StreamEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(StreamEvents::Id))
                    .col(string(StreamEvents::StreamId))
                    .col(string_len(StreamEvents::DeliveryMethod, 8))
                    .col(string_uniq(StreamEvents::Jti))
                    .col(string_null(StreamEvents::Txn))
                    .col(string(StreamEvents::EventType))
                    .col(text(StreamEvents::Payload))
                    .col(text_null(StreamEvents::Token))
                    .col(string_len(StreamEvents::Status, 16))
                    .col(integer(StreamEvents::Attempts))
                    .col(big_integer(StreamEvents::NextAttemptAt))
                    .col(big_integer_null(StreamEvents::LeaseUntil))
                    .col(string_null(StreamEvents::LeasedBy))
                    .col(text_null(StreamEvents::LastError))
                    .col(integer_null(StreamEvents::LastHttpStatus))
                    .col(big_integer(StreamEvents::ExpiresAt))
                    .col(big_integer(StreamEvents::CreatedAt))
                    .col(big_integer_null(StreamEvents::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StreamEvents::Table, StreamEvents::StreamId)
                            .to(Streams::Table, Streams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The delivery claim: due rows of one method and status, oldest due first.
        index(
            manager,
            "idx_stream_events_due",
            StreamEvents::Table,
            &[
                StreamEvents::Status,
                StreamEvents::DeliveryMethod,
                StreamEvents::NextAttemptAt,
            ],
        )
        .await?;
        // Per-stream listings, counts, poll, and in-order release of a held backlog.
        index(
            manager,
            "idx_stream_events_stream",
            StreamEvents::Table,
            &[
                StreamEvents::StreamId,
                StreamEvents::Status,
                StreamEvents::Id,
            ],
        )
        .await?;
        // The delivery claim skips streams with a row in flight: a probe on (stream, live lease).
        // Partial, so only leased rows are in it: recording a SET costs no entry, and claiming
        // and finishing one an insert and a delete.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_stream_events_in_flight \
                 ON stream_events (stream_id, lease_until) WHERE lease_until IS NOT NULL",
            )
            .await?;
        // The sweep: expired and purgeable rows.
        index(
            manager,
            "idx_stream_events_expiry",
            StreamEvents::Table,
            &[StreamEvents::ExpiresAt],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempts::Table)
                    .if_not_exists()
                    .col(big_pk_auto(DeliveryAttempts::Id))
                    .col(big_integer(DeliveryAttempts::StreamEventId))
                    .col(integer(DeliveryAttempts::Attempt))
                    .col(string_len(DeliveryAttempts::Outcome, 16))
                    .col(integer(DeliveryAttempts::HttpStatus))
                    .col(text_null(DeliveryAttempts::ResponseBody))
                    .col(text_null(DeliveryAttempts::Error))
                    .col(big_integer(DeliveryAttempts::DurationMs))
                    .col(string_len(DeliveryAttempts::Trigger, 16))
                    .col(string(DeliveryAttempts::Worker))
                    .col(big_integer_null(DeliveryAttempts::NextAttemptAt))
                    .col(big_integer(DeliveryAttempts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DeliveryAttempts::Table, DeliveryAttempts::StreamEventId)
                            .to(StreamEvents::Table, StreamEvents::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_delivery_attempts_event",
            DeliveryAttempts::Table,
            &[DeliveryAttempts::StreamEventId],
        )
        .await?;
        index(
            manager,
            "idx_delivery_attempts_created",
            DeliveryAttempts::Table,
            &[DeliveryAttempts::CreatedAt],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DeliveryAttempts::Table.into_iden(),
            StreamEvents::Table.into_iden(),
            StreamSubjects::Table.into_iden(),
            Streams::Table.into_iden(),
            Receivers::Table.into_iden(),
            SigningKeys::Table.into_iden(),
            Providers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

async fn index<T, C>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: &[C],
) -> Result<(), DbErr>
where
    T: IntoIden + Copy + 'static,
    C: IntoIden + Copy + 'static,
{
    let mut statement = Index::create();
    statement.name(name).table(table).if_not_exists();
    for column in columns {
        statement.col(*column);
    }
    manager.create_index(statement.to_owned()).await
}

#[derive(DeriveIden, Clone, Copy)]
enum Providers {
    Table,
    Id,
    Slug,
    Name,
    Issuer,
    SigningAlg,
    EventRetentionSeconds,
    DefaultSubjects,
    SubjectFormat,
    IdpIssuer,
    VerifyTls,
    MinVerificationIntervalSeconds,
    InactivityTimeoutSeconds,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum SigningKeys {
    Table,
    Id,
    ProviderId,
    Kid,
    Alg,
    PrivateKey,
    EncryptionKeyId,
    PublicJwk,
    State,
    CreatedAt,
    RetiringSince,
    RetireAfter,
}

#[derive(DeriveIden, Clone, Copy)]
enum Receivers {
    Table,
    Id,
    ProviderId,
    Name,
    TokenHash,
    CreatedAt,
    RevokedAt,
    LastSeenAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Streams {
    Table,
    Id,
    ProviderId,
    ReceiverId,
    Owner,
    Aud,
    DeliveryMethod,
    DeliveryMethodUri,
    EndpointUrl,
    AuthorizationHeader,
    Format,
    EventsRequested,
    EventsDelivered,
    Description,
    Status,
    StatusReason,
    SubjectInEvent,
    LastVerificationAt,
    LastActivityAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StreamSubjects {
    Table,
    Id,
    StreamId,
    SubjectKey,
    Subject,
    Included,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum StreamEvents {
    Table,
    Id,
    StreamId,
    DeliveryMethod,
    Jti,
    Txn,
    EventType,
    Payload,
    Token,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeasedBy,
    LastError,
    LastHttpStatus,
    ExpiresAt,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum DeliveryAttempts {
    Table,
    Id,
    StreamEventId,
    Attempt,
    Outcome,
    HttpStatus,
    ResponseBody,
    Error,
    DurationMs,
    Trigger,
    Worker,
    NextAttemptAt,
    CreatedAt,
}
