//! Cost of one SET: building the claims and signing them, per algorithm. Compare with
//! `openssl speed rsa2048 ecdsap256 ed25519` on the same machine (docs/benchmarks.md).
//!
//! `set/*` is wall-clock time, as criterion measures by default. `set_cpu/*` is the CPU
//! time of the benchmarking thread, which is what `openssl speed` divides by (unless given
//! `-elapsed`): on a shared machine other processes inflate wall-clock time but not CPU
//! time, so `set_cpu` is the figure to put beside openssl's.
//!
//! `set_cpu/openssl_baseline/*` repeats what `openssl speed` times, through the same
//! libcrypto in the same process: one context set up once, then signing a 36-byte (RSA) or
//! 20-byte (ECDSA, Ed25519) buffer with no hashing, JSON or base64. Measured beside our
//! figures, it shows our overhead even while the machine is busy.

use std::hint::black_box;
use std::time::{Duration, Instant};

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

/// CPU time this thread has used, to the nanosecond. (`/proc/thread-self/schedstat` looks
/// similar but only advances at scheduler ticks, milliseconds apart.)
fn thread_cpu_time() -> Option<Duration> {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if rc != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(now.tv_sec).ok()?,
        u32::try_from(now.tv_nsec).ok()?,
    ))
}

/// Runs `f` `iters` times and returns the thread CPU time it took (wall time if the
/// platform does not report CPU time).
fn cpu_timed(iters: u64, mut f: impl FnMut()) -> Duration {
    let (cpu_start, wall_start) = (thread_cpu_time(), Instant::now());
    for _ in 0..iters {
        f();
    }
    match (cpu_start, thread_cpu_time()) {
        (Some(start), Some(end)) => end.saturating_sub(start),
        _ => wall_start.elapsed(),
    }
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

    let mut group = c.benchmark_group("set_cpu");
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
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    black_box(key.sign_set(black_box(&json)).expect("signing"));
                })
            })
        });
        group.bench_function(format!("build_and_sign/{name}"), |b| {
            b.iter_custom(|iters| {
                cpu_timed(iters, || {
                    black_box(key.sign_claims(&claims()).expect("signing"));
                })
            })
        });
    }
    openssl_baseline(&mut group);
    group.finish();
}

fn openssl_baseline(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    use openssl::pkey::PKey;
    use openssl::pkey_ctx::PkeyCtx;
    use openssl::rsa::Padding;
    use openssl::sign::Signer;

    let private = |alg| {
        let pem = SigningKey::generate(alg)
            .and_then(|k| k.to_pem())
            .expect("key generation");
        PKey::private_key_from_pem(pem.as_bytes()).expect("PEM")
    };
    let mut signature = Vec::new();

    let rsa = private(SigningAlg::RS256);
    let mut ctx = PkeyCtx::new(&rsa).expect("context");
    ctx.sign_init().expect("sign init");
    ctx.set_rsa_padding(Padding::PKCS1).expect("padding");
    group.bench_function("openssl_baseline/rsa2048", |b| {
        b.iter_custom(|iters| {
            cpu_timed(iters, || {
                signature.clear();
                ctx.sign_to_vec(black_box(&[7u8; 36]), &mut signature)
                    .expect("signing");
            })
        })
    });

    let ec = private(SigningAlg::ES256);
    let mut ctx = PkeyCtx::new(&ec).expect("context");
    ctx.sign_init().expect("sign init");
    group.bench_function("openssl_baseline/ecdsap256", |b| {
        b.iter_custom(|iters| {
            cpu_timed(iters, || {
                signature.clear();
                ctx.sign_to_vec(black_box(&[7u8; 20]), &mut signature)
                    .expect("signing");
            })
        })
    });

    let ed = private(SigningAlg::EdDSA);
    let mut signer = Signer::new_without_digest(&ed).expect("signer");
    let mut buf = [0u8; 64];
    group.bench_function("openssl_baseline/ed25519", |b| {
        b.iter_custom(|iters| {
            cpu_timed(iters, || {
                signer
                    .sign_oneshot(&mut buf, black_box(&[7u8; 20]))
                    .expect("signing");
            })
        })
    });
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
