//! No input makes the walker panic or hang, and length fields claiming gigabytes allocate
//! nothing: arbitrary bytes, PFX-shaped bytes, and mutated real fixtures.

use std::path::Path;

use nkp_escrow::inspect::{inspect_bytes, InspectOptions};
use nkp_escrow::secret::{Password, PasswordOrigin};
use nkp_pkcs12::der;
use nkp_pkcs12::Limits;
use proptest::prelude::*;
use secrecy::SecretString;

fn opts() -> InspectOptions {
    InspectOptions {
        limits: Limits {
            max_iterations: 4096, // mutated counts stay cheap
            ..Limits::default()
        },
        ..InspectOptions::default()
    }
}

fn passwords() -> Vec<Password> {
    ["Str0ng!Escrow#Pass-2026", "legacy-pass-3des"]
        .iter()
        .map(|p| {
            Password::new(
                PasswordOrigin::Builtin {
                    label: "test".into(),
                },
                SecretString::from(p.to_string()),
            )
        })
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/p12")
            .join(name),
    )
    .unwrap()
}

const FIXTURES: &[&str] = &[
    "raw-pbes2-aes256-sha256.p12",
    "shrouded-legacy-3des-sha1.p12",
    "ber-indefinite.p12",
    "json-none.p12",
    "two-providers-16-and-64-byte.p12",
    "external/java-secretkey-default.p12",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    BigLength(usize),
}

fn apply(mut b: Vec<u8>, m: &Mutation) -> Vec<u8> {
    let n = b.len().max(1);
    match m {
        Mutation::Flip(i, x) => {
            let i = i % n;
            if let Some(v) = b.get_mut(i) {
                *v ^= x | 1;
            }
        }
        Mutation::Truncate(i) => b.truncate(i % n),
        Mutation::Insert(i, bytes) => {
            let i = i % n;
            b.splice(i..i, bytes.iter().copied());
        }
        Mutation::Delete(i, k) => {
            let i = i % n;
            let end = (i + k % 16).min(b.len());
            b.drain(i..end);
        }
        Mutation::BigLength(i) => {
            // Turn a length octet into "4 length bytes follow: 0xffffffff".
            let i = i % n;
            if i + 1 < b.len() {
                b.splice(i..i + 1, [0x84, 0xff, 0xff, 0xff, 0xff]);
            }
        }
    }
    b
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, k)| Mutation::Delete(i, k)),
        any::<usize>().prop_map(Mutation::BigLength),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let r = inspect_bytes("arbitrary", &bytes, &passwords(), &opts());
        prop_assert!(r.error.is_some() || r.kind != "not-pkcs12");
        let mut rd = der::Reader::new(&bytes);
        while let Ok(t) = rd.read() {
            let _ = t.octets();
            let _ = t.oid();
            let _ = t.text();
        }
    }

    #[test]
    fn pfx_shaped_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..2048), indefinite in any::<bool>()) {
        let mut bytes = if indefinite { vec![0x30, 0x80, 2, 1, 3] } else { vec![0x30, 0x82, 0x10, 0x00, 2, 1, 3] };
        bytes.extend(tail);
        let _ = inspect_bytes("pfx-shaped", &bytes, &passwords(), &opts());
    }

    #[test]
    fn mutated_fixtures_never_panic(which in 0..FIXTURES.len(), muts in proptest::collection::vec(mutation(), 1..4)) {
        let mut b = fixture(FIXTURES[which]);
        for m in &muts {
            b = apply(b, m);
        }
        let r = inspect_bytes("mutated", &b, &passwords(), &opts());
        // Whatever happens, the report is well-formed and has no secret-looking error text.
        if let Some(e) = &r.error {
            prop_assert!(!e.message.contains("Str0ng!Escrow#Pass-2026"));
        }
    }
}

#[test]
fn gigabyte_length_claims_are_refused_without_allocating() {
    // PFX whose authSafe OCTET STRING claims 2^62 bytes; another claiming 4 GiB.
    for claim in [
        vec![0x88, 0x40, 0, 0, 0, 0, 0, 0, 0],
        vec![0x84, 0xff, 0xff, 0xff, 0xff],
    ] {
        let mut b = vec![
            0x30, 0x80, 2, 1, 3, 0x30, 0x80, 6, 9, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 1, 7, 1,
            0xa0, 0x80, 0x04,
        ];
        b.extend(&claim);
        b.extend([0u8; 32]);
        let t = std::time::Instant::now();
        let r = inspect_bytes("claims", &b, &[], &opts());
        assert!(r.error.is_some());
        assert!(t.elapsed().as_secs() < 3, "took {:?}", t.elapsed());
    }
}

#[test]
fn deep_nesting_and_long_indefinite_chains_terminate() {
    let mut b = vec![0x30, 0x80, 2, 1, 3];
    for _ in 0..100_000 {
        b.extend([0x30, 0x80]);
    }
    let t = std::time::Instant::now();
    let r = inspect_bytes("deep", &b, &[], &opts());
    assert!(r.error.is_some());
    assert!(t.elapsed().as_secs() < 5, "took {:?}", t.elapsed());
}

/// A file refused for its MAC's iteration count is described without deriving any key: a
/// shrouded bag whose own count is within the limits is `not-opened`, with no false
/// "over the cap" problem of its own (review of issue 9).
#[test]
fn an_over_limit_file_is_described_without_false_bag_problems() {
    use nkp_pkcs12::write::{strong, Builder, Content};
    use nkp_pkcs12::{Limits, Pfx};
    let mut b = Builder::new(strong("Str0ng!Escrow#Pass-2026", 2048)).bag(
        Content::ShroudedAes(vec![5u8; 32]),
        Some("bag"),
        None,
    );
    b.claim_mac_iterations = Some(50_000);
    let bytes = b.build();
    let limits = Limits {
        max_iterations: 10_000,
        max_bags: 100,
    };
    let over = Pfx::parse(&bytes)
        .expect("parses")
        .check(&limits)
        .expect_err("the MAC is over the limit");
    assert_eq!(over.problems().len(), 1);
    let contents = over.into_contents();
    assert_eq!(contents.problems.len(), 1, "{:?}", contents.problems);
    let statuses: Vec<&str> = contents
        .structure
        .safes
        .iter()
        .flat_map(|s| s.bags.iter().map(|b| b.status.as_str()))
        .collect();
    assert!(statuses.contains(&"not-opened"), "{statuses:?}");
    assert!(contents.found.is_empty());
}
