//! Cost of one SET: building the claims and signing them, per algorithm. Compare with
//! `openssl speed rsa2048 ecdsap256 ed25519` on the same machine (docs/benchmarks.md).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ssf_provider::jose::{SigningAlg, SigningKey, alg_name};
use ssf_provider::set::{
    ChangeType, CredentialChange, CredentialType, LocalizedText, SecurityEvent, SetClaims,
    SubjectId,
};

fn claims() -> SetClaims {
    let mut change = CredentialChange::new(CredentialType::Password, ChangeType::Update);
    change.common.reason_admin = Some(LocalizedText::new("en", "Password changed by the user"));
    change.common.event_timestamp = Some(1_700_000_000);
    SetClaims::builder(
        "https://idp.example.com/application/o/ssf/",
        "https://receiver.example.com/ssf",
        SubjectId::iss_sub(
            "https://idp.example.com/application/o/ssf/",
            "c3b4a5d6-user",
        ),
        SecurityEvent::CredentialChange(change),
    )
    .txn("8675309")
    .build()
    .expect("a conforming SET")
}

fn signing(c: &mut Criterion) {
    let mut group = c.benchmark_group("set");
    group.throughput(Throughput::Elements(1));
    for alg in [
        SigningAlg::RS256,
        SigningAlg::PS256,
        SigningAlg::ES256,
        SigningAlg::EdDSA,
    ] {
        let key = SigningKey::generate(alg).expect("key generation");
        let name = alg_name(alg);
        let json = claims().to_json();
        group.bench_function(format!("sign/{name}"), |b| {
            b.iter(|| key.sign_set(black_box(&json)).expect("signing"))
        });
        group.bench_function(format!("build_and_sign/{name}"), |b| {
            b.iter(|| key.sign_claims(&claims()).expect("signing"))
        });
    }
    group.bench_function("build_only", |b| b.iter(|| claims().to_json()));
    group.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the machine is shared.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30);
    targets = signing
}
criterion_main!(benches);
