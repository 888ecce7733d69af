//! Shared setup of the emit_* tests: a transmitter with one provider, and streams written
//! straight into the database so each test picks their status and events.

#![allow(dead_code)]

use std::sync::Arc;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use ssf_entities::{
    DefaultSubjects, DeliveryMethod, StreamStatus, SubjectFormat, stream_events, streams,
};
use ssf_provider::access::AccessHook;
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::set::{EventType, SetClaims, SubjectId};
use ssf_provider::streams::Caller;
use ssf_provider::{Transmitter, TransmitterSettings};
use ssf_tests::TestDb;

pub const OWNER: &str = "receiver-1";
pub const IDP_ISSUER: &str = "https://login.example.com";

pub struct Fixture {
    pub transmitter: Transmitter,
    pub provider: providers::Model,
    // Dropped last: the database outlives the transmitter's pool.
    pub _db: TestDb,
}

pub async fn fixture(db: TestDb, default_subjects: DefaultSubjects) -> Fixture {
    fixture_with(db, default_subjects, SubjectFormat::Email).await
}

pub async fn fixture_with(
    db: TestDb,
    default_subjects: DefaultSubjects,
    subject_format: SubjectFormat,
) -> Fixture {
    let database = db.open().await;
    let settings = TransmitterSettings::new("https://ssf.example.com");
    let mut new = NewProvider::new("Acme IdP");
    new.default_subjects = default_subjects;
    new.subject_format = subject_format;
    new.idp_issuer = Some(IDP_ISSUER.to_owned());
    new.event_retention_seconds = 3600;
    let provider = providers::create_provider(&database, &settings, new)
        .await
        .expect("create provider");
    Fixture {
        transmitter: Transmitter::new(database, settings),
        provider,
        _db: db,
    }
}

/// What a test stream looks like; `Default` is an enabled push stream asking for every
/// event type, with a string `aud`.
pub struct StreamSpec {
    pub status: StreamStatus,
    pub events: Vec<EventType>,
    pub aud: serde_json::Value,
    pub subject_in_event: bool,
    pub method: DeliveryMethod,
}

impl Default for StreamSpec {
    fn default() -> Self {
        StreamSpec {
            status: StreamStatus::Enabled,
            events: EventType::ALL.to_vec(),
            aud: serde_json::json!("https://rp.example.com"),
            subject_in_event: false,
            method: DeliveryMethod::Push,
        }
    }
}

impl Fixture {
    pub fn conn(&self) -> &sea_orm::DatabaseConnection {
        &self.transmitter.db().orm
    }

    pub fn caller(&self) -> Caller {
        Caller {
            provider: self.provider.clone(),
            owner: OWNER.to_owned(),
            receiver_id: None,
            default_audience: "https://rp.example.com".to_owned(),
        }
    }

    pub async fn stream(&self, spec: StreamSpec) -> streams::Model {
        let uris: Vec<&str> = spec.events.iter().map(|e| e.uri()).collect();
        let now = ssf_provider::clock::now_ms();
        streams::ActiveModel {
            id: Set(uuid::Uuid::new_v4().simple().to_string()),
            provider_id: Set(self.provider.id.clone()),
            receiver_id: Set(None),
            owner: Set(OWNER.to_owned()),
            aud: Set(spec.aud.to_string()),
            delivery_method: Set(spec.method),
            delivery_method_uri: Set(match spec.method {
                DeliveryMethod::Push => "urn:ietf:rfc:8935".to_owned(),
                DeliveryMethod::Poll => "urn:ietf:rfc:8936".to_owned(),
            }),
            endpoint_url: Set(Some("https://rp.example.com/events".to_owned())),
            authorization_header: Set(None),
            format: Set(None),
            events_requested: Set(serde_json::to_string(&uris).unwrap()),
            events_delivered: Set(serde_json::to_string(&uris).unwrap()),
            description: Set(None),
            status: Set(spec.status),
            status_reason: Set(None),
            subject_in_event: Set(spec.subject_in_event),
            last_verification_at: Set(None),
            last_activity_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.conn())
        .await
        .expect("insert stream")
    }

    pub async fn streams(&self, n: usize) -> Vec<streams::Model> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.stream(StreamSpec::default()).await);
        }
        out
    }

    /// The stream events of `stream_id`, oldest first.
    pub async fn events_of(&self, stream_id: &str) -> Vec<stream_events::Model> {
        stream_events::Entity::find()
            .filter(stream_events::Column::StreamId.eq(stream_id))
            .order_by_asc(stream_events::Column::Id)
            .all(self.conn())
            .await
            .unwrap()
    }

    pub async fn all_events(&self) -> Vec<stream_events::Model> {
        stream_events::Entity::find()
            .order_by_asc(stream_events::Column::Id)
            .all(self.conn())
            .await
            .unwrap()
    }

    pub async fn add_subject(&self, stream_id: &str, subject: &SubjectId) {
        ssf_provider::streams::subjects::add_subject(
            &self.transmitter,
            &self.caller(),
            stream_id,
            subject,
        )
        .await
        .expect("add subject");
    }

    pub async fn remove_subject(&self, stream_id: &str, subject: &SubjectId) {
        ssf_provider::streams::subjects::remove_subject(
            &self.transmitter,
            &self.caller(),
            stream_id,
            subject,
        )
        .await
        .expect("remove subject");
    }

    pub async fn execute(&self, sql: &str) {
        self.conn().execute_unprepared(sql).await.expect(sql);
    }

    pub fn with_hook(mut self, hook: Arc<dyn AccessHook>) -> Self {
        self.transmitter = self.transmitter.clone().with_access_hook(hook);
        self
    }
}

/// The SET claims a stream event holds.
pub fn claims(event: &stream_events::Model) -> SetClaims {
    SetClaims::from_json(&event.payload).expect("payload is a valid SET")
}

pub fn payload_json(event: &stream_events::Model) -> serde_json::Value {
    serde_json::from_str(&event.payload).expect("payload is JSON")
}
