//! Replays the committed corpus of every fuzz target in `fuzz/` on stable Rust, so that every
//! seed and every input that once crashed a target is run by `cargo test` (and so by CI).
//! A new crash found by `cargo +nightly fuzz run <target>` is fixed, then its input is added
//! to `fuzz/corpus/<target>/` and stays here as a regression test.

use std::path::PathBuf;

type Target = fn(&[u8]);

fn replay(name: &str, target: Target) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    for f in files {
        let data = std::fs::read(&f).expect("read corpus file");
        target(&data);
        // Every prefix of a seed too: truncation is the commonest damage.
        for cut in [
            1,
            data.len() / 3,
            data.len() / 2,
            data.len().saturating_sub(1),
        ] {
            target(&data[..cut.min(data.len())]);
        }
    }
}

#[test]
fn pfx_open_corpus() {
    replay("pfx_open", nkp_escrow::fuzzing::pfx_open);
}

#[test]
fn ber_read_corpus() {
    replay("ber_read", nkp_escrow::fuzzing::ber_read);
}

#[test]
fn keysafe_parse_corpus() {
    replay("keysafe_parse", nkp_escrow::fuzzing::keysafe_parse);
}

#[test]
fn evidence_text_corpus() {
    replay("evidence_text", nkp_escrow::fuzzing::evidence_text);
}

#[test]
fn age_header_corpus() {
    replay("age_header", nkp_escrow::fuzzing::age_header);
}

#[test]
fn vault_verify_corpus() {
    replay("vault_verify", nkp_escrow::fuzzing::vault_verify);
}

#[test]
fn every_fuzz_target_has_a_corpus_and_a_replay() {
    let targets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let this = include_str!("fuzz_corpus.rs");
    for e in std::fs::read_dir(targets).expect("fuzz_targets") {
        let p = e.expect("entry").path();
        let name = p.file_stem().expect("name").to_string_lossy().into_owned();
        assert!(
            this.contains(&format!("replay(\"{name}\"")),
            "fuzz target {name} has no replay test"
        );
    }
}

#[test]
fn text_inputs_corpus() {
    replay("text_inputs", nkp_escrow::fuzzing::text_inputs);
}
