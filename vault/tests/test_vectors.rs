//! Frozen vault folders (`tests/vectors/v1/<name>/` and `tests/vectors/v2/<name>/`), one test
//! each: today's verification of each folder must equal its `expected.json`, and its objects
//! must decrypt with the test-only identity to the plaintexts stated there. The `v2` folders
//! are made by `examples/gen_vectors.rs`; the `v1` folders were made by its format-1 version
//! and can no longer be regenerated (only their `expected.json` gained the format-1 warning).
//! Neither is regenerated casually: a failure here means the on-disk format or a verification
//! rule drifted.

use std::path::{Path, PathBuf};

use nkp_vault::{Identities, Vault, VerifyOptions, VerifyReport};
use secrecy::ExposeSecret;
use serde_json::Value;

fn vectors() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn kinds<'a>(it: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut v: Vec<String> = it.map(String::from).collect();
    v.sort();
    v
}

fn expected_kinds(e: &Value, key: &str) -> Vec<String> {
    let mut v: Vec<String> = e[key]
        .as_array()
        .unwrap_or_else(|| panic!("expected.json: {key} is not a list"))
        .iter()
        .map(|k| k.as_str().expect("a kind").to_string())
        .collect();
    v.sort();
    v
}

fn check(name: &str) {
    let dir = vectors().join(name);
    let e: Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).expect("expected.json"))
            .expect("expected.json parses");
    let trusted: Vec<String> = e["trusted_keys"]
        .as_array()
        .expect("trusted_keys")
        .iter()
        .map(|k| k.as_str().expect("a key").to_string())
        .collect();
    let v = Vault::open(&dir).expect("opens");
    let options = VerifyOptions {
        trusted,
        allow_unsigned_tail: e["allow_unsigned_tail"].as_bool().unwrap_or(false),
        expect_seq: e["expect_seq"].as_u64(),
        expect_head: e["expect_head"].as_str().map(String::from),
    };
    let r = v.verify_with(&options);
    let what = format!("{name}: {r:#?}");
    assert_eq!(r.ok, e["ok"].as_bool().expect("ok"), "{what}");
    assert_eq!(Some(r.events as u64), e["events"].as_u64(), "{what}");
    assert_eq!(Some(r.entries as u64), e["entries"].as_u64(), "{what}");
    assert_eq!(
        Some(r.trusted_checkpoints as u64),
        e["trusted_checkpoints"].as_u64(),
        "{what}"
    );
    assert_eq!(
        kinds(r.problems.iter().map(|p| p.kind())),
        expected_kinds(&e, "problems"),
        "{what}"
    );
    assert_eq!(
        kinds(r.warnings.iter().map(|w| w.kind())),
        expected_kinds(&e, "warnings"),
        "{what}"
    );
    // The report's JSON form (what `vault verify --format json` prints) lists messages.
    let json = serde_json::to_value(&r).expect("serialises");
    assert_eq!(
        json["problems"].as_array().map(Vec::len),
        Some(r.problems.len())
    );

    // Decryption with the test-only identity.
    let ids = Identities::from_file(&vectors().join("test-identity.txt")).expect("identity");
    let mut d = VerifyReport::default();
    v.verify_decryption(&ids, &mut d).expect("manifest reads");
    assert_eq!(
        kinds(d.problems.iter().map(|p| p.kind())),
        expected_kinds(&e, "decryption_problems"),
        "{name}: {d:#?}"
    );
    if !d.problems.is_empty() {
        return;
    }
    let plaintexts = e["plaintexts"].as_array().expect("plaintexts");
    for entry in v.entries().expect("entries") {
        let want = plaintexts
            .iter()
            .find(|p| p["provider"].as_str() == entry.provider.as_deref())
            .expect("a plaintext per provider");
        let env = v.open_entry(&entry, &ids).expect("decrypts");
        assert_eq!(env.format, nkp_vault::ENVELOPE_FORMAT);
        let p12 = env.p12().expect("base64");
        assert_eq!(Some(&p12[..]), want["p12"].as_str().map(str::as_bytes));
        assert_eq!(
            env.password.as_ref().map(|p| p.expose_secret().to_string()),
            want["password"].as_str().map(String::from),
            "{name}: {}",
            entry.id
        );
        assert_eq!(entry.password_escrowed, env.password.is_some());
    }
}

macro_rules! vectors {
    ($($test:ident => $dir:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                check($dir);
            }
        )*

        /// Every folder under `tests/vectors/` has a test above: a new vector cannot be
        /// committed and silently skipped.
        #[test]
        fn every_vector_folder_has_a_test() {
            let mut listed = vec![$($dir),*];
            listed.sort_unstable();
            let mut found: Vec<String> = Vec::new();
            for format in ["v1", "v2"] {
                found.extend(
                    std::fs::read_dir(vectors().join(format))
                        .expect("vectors folder")
                        .filter_map(|e| e.ok())
                        .filter(|e| e.path().is_dir())
                        .map(|e| format!("{format}/{}", e.file_name().to_string_lossy())),
                );
            }
            found.sort();
            assert_eq!(found, listed);
        }
    };
}

vectors! {
    v1_valid_vault_verifies_and_decrypts => "v1/valid",
    v1_head_one_step_behind_is_a_warning => "v1/head-behind",
    v1_truncated_manifest_is_detected_by_head => "v1/truncated-manifest",
    v1_reordered_lines_break_sequence_and_chain => "v1/reordered-lines",
    v1_swapped_objects_are_detected_without_a_key => "v1/swapped-object",
    v1_bad_checkpoint_signature_is_detected => "v1/bad-checkpoint-signature",
    v1_orphan_object_and_temp_file_are_warnings => "v1/orphan-and-temp",
    valid_vault_verifies_and_decrypts => "v2/valid",
    head_one_step_behind_is_a_warning => "v2/head-behind",
    truncated_manifest_is_detected_by_head => "v2/truncated-manifest",
    reordered_lines_break_sequence_and_chain => "v2/reordered-lines",
    swapped_objects_are_detected_without_a_key => "v2/swapped-object",
    bad_checkpoint_signature_is_detected => "v2/bad-checkpoint-signature",
    orphan_object_and_temp_file_are_warnings => "v2/orphan-and-temp",
    edited_custodians_in_vault_yaml_are_a_problem => "v2/config-swapped",
    interrupted_rekey_leaves_vault_yaml_behind => "v2/config-behind",
    object_encrypted_to_an_extra_recipient_is_found_without_a_key => "v2/extra-recipient",
    a_checkpoint_line_removed_breaks_the_checkpoint_chain => "v2/checkpoint-chain",
    events_after_the_newest_trusted_checkpoint_fail => "v2/unsigned-tail",
    a_rollback_below_the_pinned_head_fails => "v2/rolled-back",
}
