//! What the pieces of the verify path cost on their own, without HTTP: why
//! the authentication cache keys by digest (a digest is far cheaper than a
//! signature check), and what a scope check and a glob add. The HTTP
//! numbers are `scripts/bench.sh`'s; see BENCHMARKS.md.
//!
//! `cargo bench -p latchkey-core --bench verify_path`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use latchkey_core::glob::Glob;
use latchkey_core::model::{Creator, CreatorType, Status, TokenOwnerType};
use latchkey_core::scope::{any_grants, Action, TargetOwner};
use latchkey_core::token::{digest, generate_key, KeyRing, NewToken, Signer};
use latchkey_core::Id;

const NOW: i64 = 1_764_000_000_000;

fn new_token() -> NewToken {
    let owner = Id::generate(NOW / 1000);
    NewToken {
        owner_type: TokenOwnerType::Application,
        owner_id: owner,
        creator: Creator {
            kind: CreatorType::User,
            id: Id::generate(NOW / 1000),
            name: "bench".into(),
        },
        name: "seed-0000001".into(),
        description: String::new(),
        scope: vec!["all.Application.read".into(), "applicationApiTokens.get".into()],
        status: Status::Active,
        expiration_date: None,
    }
}

fn verify_path(c: &mut Criterion) {
    let key = generate_key(NOW, NOW);
    let signer = Signer::new(&key);
    let keys = KeyRing::new(std::slice::from_ref(&key));
    let (record, secret) = signer.issue(new_token(), NOW);
    let mut forged = secret.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");

    c.bench_function("digest (every request)", |b| b.iter(|| digest(black_box(&secret))));
    c.bench_function("signature check, good token (first sight)", |b| {
        b.iter(|| keys.verify(black_box(&secret)))
    });
    c.bench_function("signature check, forged token", |b| {
        b.iter(|| keys.verify(black_box(&forged)))
    });

    let action = Action::parse("applicationApiTokens.get").expect("an action");
    c.bench_function("scope check (introspect's allowed)", |b| {
        b.iter(|| any_grants(black_box(&record.scope), black_box(&action), TargetOwner::User))
    });

    let (prefix, infix) = (Glob::new("seed-0001*"), Glob::new("*0001*"));
    c.bench_function("glob, prefix", |b| b.iter(|| prefix.matches(black_box("seed-0001234"))));
    c.bench_function("glob, infix", |b| b.iter(|| infix.matches(black_box("seed-1230001"))));

    c.bench_function("mint a token (admin seed, POST)", |b| {
        b.iter(|| signer.issue(new_token(), black_box(NOW)))
    });
}

criterion_group!(benches, verify_path);
criterion_main!(benches);
