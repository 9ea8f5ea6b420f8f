//! Entry points for the fuzz targets in `fuzz/` (and for the replay of their committed corpus
//! in `tests/fuzz_corpus.rs`). Each takes arbitrary bytes and must return without panicking,
//! hanging or allocating without bound. Not a stable API.

use std::path::Path;

use nkp_pkcs12::der::{Reader, Tlv};
use nkp_pkcs12::{Limits, Pfx};
use secrecy::SecretString;

use crate::evidence::keysafe::KeySafe;
use crate::evidence::{self, scan::FileHint, Collector};
use crate::secret::{Password, PasswordOrigin};

/// Parse, check and open a PFX, then recognise NKP providers and assess protection.
pub fn pfx_open(data: &[u8]) {
    let limits = Limits {
        max_iterations: 4096,
        max_bags: 256,
    };
    let passwords = [Password::new(
        PasswordOrigin::Builtin {
            label: "fuzz".into(),
        },
        SecretString::from("Str0ng!Escrow#Pass-2026"),
    )];
    let Ok(pfx) = Pfx::parse(data) else { return };
    let mut contents = match pfx.check(&limits) {
        Ok(checked) => checked.open(&passwords),
        Err(over) => over.into_contents(),
    };
    let found = crate::nkp::classify(&mut contents);
    let rec = crate::nkp::recognise(&found);
    let layers: Vec<Vec<usize>> = rec.providers.iter().map(|p| p.layers.clone()).collect();
    let _ = crate::nkp::protection::assess(&contents, &found, &layers, &passwords);
}

/// Read every BER element, to the reader's depth cap, with each accessor.
pub fn ber_read(data: &[u8]) {
    fn walk(t: &Tlv<'_>, depth: u32) {
        let _ = (t.octets(), t.uint(), t.oid(), t.text(), t.describe());
        if depth > 64 || !t.constructed {
            return;
        }
        if let Ok(mut r) = t.reader() {
            while !r.is_empty() {
                match r.read() {
                    Ok(c) => walk(&c, depth + 1),
                    Err(_) => return,
                }
            }
        }
    }
    let mut r = Reader::new(data);
    while !r.is_empty() {
        match r.read() {
            Ok(t) => walk(&t, 0),
            Err(_) => return,
        }
    }
}

/// Parse a keySafe locator and print it back.
pub fn keysafe_parse(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(k) = KeySafe::parse(&text) {
        let _ = k.fqids();
        let _ = k.to_string();
    }
}

/// Read text as `evidence` reads a pasted ticket, a `.vmx` and a `.vmdk`.
pub fn evidence_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for (hint, name) in [
        (FileHint::Other, "fuzz.txt"),
        (FileHint::Vmx, "fuzz.vmx"),
        (FileHint::Vmdk, "fuzz.vmdk"),
    ] {
        let mut c = Collector::new(name);
        evidence::from_text(&text, Path::new(name), hint, &mut c);
        let _ = c.finish(None);
    }
}

/// Verify a vault folder whose manifest is `data` up to the first NUL byte and whose `HEAD`
/// is the rest, without any key.
pub fn vault_verify(data: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let (manifest, head) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let dir = std::env::temp_dir().join(format!(
        "nkp-escrow-fuzz-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    if std::fs::create_dir_all(dir.join("objects")).is_err() {
        return;
    }
    let written = std::fs::write(dir.join("manifest.jsonl"), manifest)
        .and_then(|()| std::fs::write(dir.join("HEAD"), head))
        .and_then(|()| {
            std::fs::write(
                dir.join("vault.yaml"),
                "format: nkp-vault/2\nrecipients: []\npassphrase: true\n",
            )
        });
    if written.is_ok() {
        let options = nkp_vault::VerifyOptions {
            trusted: vec!["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into()],
            expect_seq: Some(2),
            ..Default::default()
        };
        let _ = nkp_vault::verify::keyless(&dir, &options);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Read the recipient stanzas of an age header, and check them against a custodian set.
pub fn age_header(data: &[u8]) {
    if let Ok(stanzas) = nkp_vault::header::stanzas(data) {
        let set = nkp_vault::CustodianSet::recipients(&[nkp_vault::RecipientSpec {
            label: "fuzz".into(),
            recipient:
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsKLqeplhpW+uObz5dvMgjz1OxfM/XXUB+VHtZ6isGN"
                    .into(),
        }]);
        let _ = set.check_stanzas(&stanzas);
    }
}

/// The text readers added for reports and standard input: armor around a `.p12` (PEM, certutil,
/// bare base64), evidence in UTF-16 or with a BOM, capture times stated in text, report
/// signatures and signer files, Shamir shares and k-of-n objects.
pub fn text_inputs(data: &[u8]) {
    let _ = crate::inspect::armor::unarmor(data);
    let _ = evidence::read_bytes(
        Path::new("fuzz.txt"),
        data,
        &evidence::EvidenceOptions::default(),
    );
    let _ = crate::report::capture::stated_time(
        data,
        time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
    );
    let text = String::from_utf8_lossy(data);
    let _ = crate::report::sign::verify(&text, data, None);
    let _ = crate::report::sign::parse_signer(&text);
    // Shamir shares as `ssss-combine` reads them: one per line, any two combined.
    let shares: Vec<nkp_vault::shamir::Share> = text
        .lines()
        .take(8)
        .enumerate()
        .filter_map(|(i, l)| nkp_vault::shamir::Share::parse(l, i + 1).ok())
        .collect();
    let _ = nkp_vault::shamir::combine(&shares, 2);
    // A k-of-n object, checked without a key.
    let set = nkp_vault::CustodianSet {
        mode: nkp_vault::Mode::Recipients,
        custodians: Vec::new(),
        verifier: None,
        threshold: Some(2),
    };
    let _ = nkp_vault::threshold::check(data, &set);
}
