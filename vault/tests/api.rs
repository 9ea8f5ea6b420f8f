//! The library API end to end, without the CLI: init, add, list, find, open, verify, drill,
//! checkpoint and rekey; tampering of every kind is reported with its kind; refusals are
//! structured errors whose messages stay what the CLI prints.

use std::path::{Path, PathBuf};

use nkp_vault::{
    Accessor, Added, Envelope, Facts, Identities, RecipientSpec, Vault, VaultError, VerifyOptions,
    VerifyReport,
};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

/// The test-only identity of the vectors (public; never used for anything real).
fn test_identity() -> (PathBuf, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/test-identity.txt");
    let text = std::fs::read_to_string(&path).expect("test identity");
    let public = text
        .lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("public key line")
        .to_string();
    (path, public)
}

fn spec(label: &str, recipient: &str) -> RecipientSpec {
    RecipientSpec {
        label: label.into(),
        recipient: recipient.into(),
    }
}

fn item(
    p12: &str,
    password: Option<&str>,
    provider: &str,
    key_id: &str,
) -> (Zeroizing<Vec<u8>>, Option<SecretString>, Facts) {
    (
        Zeroizing::new(p12.as_bytes().to_vec()),
        password.map(SecretString::from),
        Facts {
            provider: Some(provider.into()),
            key_id: Some(key_id.into()),
            kdk_fingerprint: format!("sha256:{provider}"),
            verdict: if password.is_some() {
                "strong"
            } else {
                "unprotected"
            }
            .into(),
            export_time: Some("2024-01-02T03:04:05Z".into()),
            label: format!("{provider}.p12"),
            ..Default::default()
        },
    )
}

/// A vault with three entries (two share a provider name).
fn vault(d: &Path) -> (Vault, Identities) {
    let (id, public) = test_identity();
    let v = Vault::init(&d.join("v"), vec![spec("custodian-a", &public)], None).expect("init");
    let added = v
        .add(
            vec![
                item("p12-one", Some("pw-one"), "NKP-PROD", "aaaaaaaa-0001"),
                item("p12-two", None, "NKP-PROD", "bbbbbbbb-0002"),
                item("p12-three", Some("pw-three"), "NKP-DR", "cccccccc-0003"),
            ],
            None,
        )
        .expect("add");
    assert!(
        added.iter().all(|a| matches!(a, Added::New(_))),
        "{added:?}"
    );
    (v, Identities::from_file(&id).expect("identity"))
}

fn by() -> Accessor {
    Accessor {
        custodian: "custodian-a".into(),
        fingerprint: "sha256:test".into(),
        user: "tester".into(),
        host: "testhost".into(),
    }
}

fn trusting(keys: &[String]) -> VerifyOptions {
    VerifyOptions {
        trusted: keys.to_vec(),
        ..VerifyOptions::default()
    }
}

fn kinds(r: &VerifyReport) -> (Vec<&'static str>, Vec<&'static str>) {
    (
        r.problems.iter().map(|p| p.kind()).collect(),
        r.warnings.iter().map(|w| w.kind()).collect(),
    )
}

#[test]
fn init_add_list_find_open_drill_round_trip() {
    let d = tempfile::tempdir().unwrap();
    let (v, ids) = vault(d.path());
    let r = v.verify();
    assert!(
        r.ok && r.problems.is_empty() && r.warnings.is_empty(),
        "{r:#?}"
    );
    assert_eq!((r.events, r.entries, r.objects_checked), (4, 3, 3));

    // Adding the same bytes again (even in one call) is deduplicated by SHA-256.
    let again = v
        .add(
            vec![
                item("p12-one", Some("pw-one"), "X", "x"),
                item("p12-four", None, "NKP-NEW", "dddddddd-0004"),
                item("p12-four", None, "NKP-NEW", "dddddddd-0004"),
            ],
            None,
        )
        .unwrap();
    let entries = v.entries().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(again[0], Added::Duplicate(entries[0].id.clone()));
    assert_eq!(again[1], Added::New(entries[3].id.clone()));
    assert_eq!(again[2], Added::Duplicate(entries[3].id.clone()));

    // Find by id prefix, key_id, unique provider; ambiguity lists the candidates.
    assert_eq!(v.find(&entries[2].id[..6]).unwrap().id, entries[2].id);
    assert_eq!(v.find("bbbbbbbb-0002").unwrap().id, entries[1].id);
    assert_eq!(v.find("NKP-DR").unwrap().id, entries[2].id);
    match v.find("NKP-PROD") {
        Err(e @ VaultError::Ambiguous { .. }) => {
            assert!(e.to_string().contains("matches 2 entries"), "{e}");
            let VaultError::Ambiguous { candidates, .. } = e else {
                unreachable!()
            };
            assert_eq!(candidates.len(), 2);
            assert_eq!(candidates[0].id, entries[0].id);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(v.find("nothing"), Err(VaultError::NoMatch { selector }) if selector == "nothing")
    );

    // Open: the .p12 bytes and password come back; the manifest says which had one.
    for (e, (p12, pw)) in entries.iter().zip([
        ("p12-one", Some("pw-one")),
        ("p12-two", None),
        ("p12-three", Some("pw-three")),
    ]) {
        let env = v.open_entry(e, &ids).unwrap();
        assert_eq!(&env.p12().unwrap()[..], p12.as_bytes());
        assert_eq!(env.password.as_ref().map(|p| p.expose_secret()), pw);
        assert_eq!(e.password_escrowed, pw.is_some());
    }

    // Drill results land in the manifest and in the entry.
    v.record_drill(&entries[0].id, true, "ok".into(), &by())
        .unwrap();
    let e0 = v.find(&entries[0].id).unwrap();
    assert_eq!(e0.last_drill.map(|(_, ok)| ok), Some(true));
    let mut r = v.verify();
    assert!(r.ok, "{r:#?}");
    assert_eq!(r.events, 6);
    v.verify_decryption(&ids, &mut r).unwrap();
    assert!(r.ok, "{r:#?}");
}

#[test]
fn manifest_edits_deletions_reorderings_and_truncations_are_problems() {
    let d = tempfile::tempdir().unwrap();
    let (v, _) = vault(d.path());
    let m = v.dir().join("manifest.jsonl");
    let original = std::fs::read(&m).unwrap();
    for i in (0..original.len()).step_by(11) {
        let mut b = original.clone();
        b[i] ^= 0x01;
        std::fs::write(&m, &b).unwrap();
        assert!(!v.verify().ok, "byte {i} flipped");
    }
    let text = String::from_utf8(original.clone()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let cases: [(&str, Vec<&str>, &[&str]); 3] = [
        (
            "line 3 deleted",
            vec![lines[0], lines[1], lines[3]],
            &["sequence", "chain", "head-mismatch"],
        ),
        (
            "lines 2 and 3 swapped",
            vec![lines[0], lines[2], lines[1], lines[3]],
            &["sequence", "chain", "sequence", "chain", "chain"],
        ),
        (
            "last line cut",
            vec![lines[0], lines[1], lines[2]],
            &["head-mismatch"],
        ),
    ];
    for (what, ls, want) in cases {
        std::fs::write(&m, ls.join("\n") + "\n").unwrap();
        let r = v.verify();
        assert!(!r.ok, "{what}");
        assert_eq!(kinds(&r).0, want, "{what}: {r:#?}");
    }
    std::fs::write(&m, &original[..original.len() - 1]).unwrap();
    assert_eq!(kinds(&v.verify()).0, ["no-final-newline"]);
    // A damaged manifest stops writers with a structured error.
    std::fs::write(&m, b"{not json\n").unwrap();
    match v.entries() {
        Err(VaultError::ManifestLine { line: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    std::fs::write(&m, &original).unwrap();
    std::fs::write(v.dir().join("HEAD"), b"2 0000\n").unwrap();
    let r = v.verify();
    assert_eq!(kinds(&r).0, ["head-mismatch"]);
    assert!(r.problems[0]
        .to_string()
        .starts_with("HEAD says 2 0000 but"));
}

#[test]
fn object_changes_are_problems_and_leftovers_are_warnings() {
    let d = tempfile::tempdir().unwrap();
    let (v, ids) = vault(d.path());
    let e = v.entries().unwrap();
    let obj = |i: usize| v.dir().join("objects").join(format!("{}.age", e[i].object));
    let (a, b) = (
        std::fs::read(obj(0)).unwrap(),
        std::fs::read(obj(1)).unwrap(),
    );
    std::fs::write(obj(0), &b).unwrap();
    std::fs::write(obj(1), &a).unwrap();
    assert_eq!(kinds(&v.verify()).0, ["object-changed", "object-changed"]);
    assert!(matches!(
        v.open_entry(&e[0], &ids),
        Err(VaultError::ObjectChanged { .. })
    ));
    std::fs::write(obj(0), &a).unwrap();
    std::fs::write(obj(1), &b).unwrap();
    let c = std::fs::read(obj(2)).unwrap();
    std::fs::remove_file(obj(2)).unwrap();
    let r = v.verify();
    assert_eq!(kinds(&r).0, ["object-missing"]);
    assert!(r.problems[0].to_string().contains("is missing"));
    let mut r = VerifyReport::default();
    v.verify_decryption(&ids, &mut r).unwrap();
    assert_eq!(kinds(&r).0, ["entry-unopenable"]);
    assert!(
        r.problems[0].to_string().contains(": cannot read object: "),
        "{}",
        r.problems[0]
    );
    std::fs::write(obj(2), &c).unwrap();
    // What an interrupted write leaves: warnings only.
    std::fs::write(v.dir().join("objects/feedface.age"), b"x").unwrap();
    std::fs::write(v.dir().join("objects/.t.age.tmp-9"), b"x").unwrap();
    let r = v.verify();
    assert!(r.ok, "{r:#?}");
    let mut w = kinds(&r).1;
    w.sort_unstable();
    assert_eq!(w, ["orphan-object", "temp-file"]);
}

#[test]
fn signed_checkpoints_catch_a_consistent_rewrite() {
    let d = tempfile::tempdir().unwrap();
    let (v, _) = vault(d.path());
    let (key, public) = nkp_vault::checkpoint::generate().unwrap();
    let cp = v.checkpoint(&key).unwrap();
    assert_eq!(cp.seq, 4);
    assert!(cp.signature_valid());
    let trusted = [public];
    assert_eq!(v.verify_with(&trusting(&trusted)).trusted_checkpoints, 1);
    // An untrusted signer is a warning when a trusted key is named.
    let (other, _) = nkp_vault::checkpoint::generate().unwrap();
    v.checkpoint(&other).unwrap();
    let r = v.verify_with(&trusting(&trusted));
    assert!(r.ok);
    assert_eq!(kinds(&r).1, ["untrusted-checkpoint"]);
    // Drop the last line and recompute HEAD: only the checkpoints tell.
    let m = std::fs::read_to_string(v.dir().join("manifest.jsonl")).unwrap();
    let kept: Vec<&str> = m.lines().take(3).collect();
    std::fs::write(v.dir().join("manifest.jsonl"), kept.join("\n") + "\n").unwrap();
    let h = nkp_vault::store::sha256_hex(kept[2].as_bytes());
    std::fs::write(v.dir().join("HEAD"), format!("3 {h}\n")).unwrap();
    assert_eq!(
        kinds(&v.verify()).0,
        ["checkpoint-truncated", "checkpoint-truncated"]
    );
    std::fs::remove_file(v.dir().join("checkpoints.jsonl")).unwrap();
    assert!(
        v.verify().ok,
        "without a trust anchor the rewrite is consistent"
    );
    assert_eq!(
        kinds(&v.verify_with(&trusting(&trusted))).0,
        ["no-trusted-checkpoint"]
    );
    // Refusals.
    assert!(matches!(
        v.checkpoint(b"not a key"),
        Err(VaultError::NotASigningKey)
    ));
    let (_, public) = test_identity();
    // A new vault's chain starts with its custodian set: that is checkpointed too.
    let empty = Vault::init(&d.path().join("empty"), vec![spec("a", &public)], None).unwrap();
    assert_eq!(empty.checkpoint(&key).unwrap().seq, 1);
}

#[test]
fn rekey_moves_every_object_and_the_old_identity_no_longer_opens_them() {
    let d = tempfile::tempdir().unwrap();
    let (mut v, old) = vault(d.path());
    let new = age::x25519::Identity::generate();
    let new_path = d.path().join("new.txt");
    std::fs::write(&new_path, format!("{}\n", new.to_string().expose_secret())).unwrap();
    let n = v
        .rekey(
            &old,
            vec![spec("custodian-b", &new.to_public().to_string())],
            &by(),
        )
        .unwrap();
    assert_eq!(n, 3);
    let r = v.verify();
    assert!(r.ok && r.warnings.is_empty(), "{r:#?}");
    let new_ids = Identities::from_file(&new_path).unwrap();
    let e = v.entries().unwrap();
    assert_eq!(
        &v.open_entry(&e[0], &new_ids).unwrap().p12().unwrap()[..],
        b"p12-one"
    );
    let err = v.open_entry(&e[0], &old).unwrap_err();
    assert!(matches!(err, VaultError::Decrypt { .. }), "{err:?}");
    assert!(
        err.chain()
            .starts_with("cannot decrypt with this identity: "),
        "{}",
        err.chain()
    );
    assert!(matches!(
        v.rekey(&new_ids, vec![], &by()),
        Err(VaultError::RekeyNeedsRecipient)
    ));
}

#[test]
fn refusals_are_structured_errors_with_the_cli_messages() {
    let d = tempfile::tempdir().unwrap();
    let (_, public) = test_identity();
    let dir = d.path().join("v");
    assert!(matches!(
        Vault::init(&dir, vec![], None),
        Err(VaultError::NoRecipients)
    ));
    assert!(matches!(
        Vault::init(
            &dir,
            vec![spec("a", &public)],
            Some(&SecretString::from("p"))
        ),
        Err(VaultError::PassphraseWithRecipients)
    ));
    let bad = Vault::init(&dir, vec![spec("a", "age1nope")], None).unwrap_err();
    assert!(matches!(bad, VaultError::InvalidRecipient { .. }));
    assert!(bad
        .to_string()
        .starts_with("not a valid age recipient \"age1nope\": "));
    let bad = Vault::init(&dir, vec![spec("a", "pgp-key")], None).unwrap_err();
    assert_eq!(
        bad.to_string(),
        // Issue 10: an unrecognised value may be a secret pasted in the wrong place.
        "a value of 7 characters (not shown: it may be a secret) is neither an age recipient (age1...) nor an SSH public key (ssh-ed25519/ssh-rsa)"
    );
    let err = Vault::open(&dir).unwrap_err();
    assert!(matches!(err, VaultError::NoVault { .. }));
    assert!(err.to_string().contains(": no vault here ("), "{err}");
    Vault::init(&dir, vec![spec("a", &public)], None).unwrap();
    let again = Vault::init(&dir, vec![spec("a", &public)], None).unwrap_err();
    assert_eq!(
        again.to_string(),
        format!(
            "{} already holds a vault: nothing was changed",
            dir.display()
        )
    );
    std::fs::write(dir.join("vault.yaml"), "format: nkp-vault/9\n").unwrap();
    let err = Vault::open(&dir).unwrap_err();
    assert!(err
        .to_string()
        .ends_with("format \"nkp-vault/9\", this tool reads nkp-vault/2"));
    // create_new never overwrites; an I/O failure names the file and the step, with source().
    let f = d.path().join("x");
    std::fs::write(&f, b"keep").unwrap();
    let err = nkp_vault::store::create_new(&f, 0o600).unwrap_err();
    assert!(matches!(&err, VaultError::Exists { path } if path == &f));
    assert!(err
        .to_string()
        .ends_with("already exists: nothing is overwritten; choose another path"));
    let missing = d.path().join("no/such/dir/file");
    let err = nkp_vault::store::create_new(&missing, 0o600).unwrap_err();
    assert!(std::error::Error::source(&err).is_some());
    assert_eq!(
        err.to_string(),
        format!("{}: cannot create", missing.display())
    );
    assert!(err
        .chain()
        .starts_with(&format!("{}: cannot create: ", missing.display())));
    // Identity files.
    let err = Identities::from_file(&d.path().join("absent")).unwrap_err();
    assert!(
        err.chain().contains(": cannot read identity: "),
        "{}",
        err.chain()
    );
    std::fs::write(d.path().join("empty.txt"), "# nothing\n").unwrap();
    assert!(matches!(
        Identities::from_file(&d.path().join("empty.txt")),
        Err(VaultError::NoIdentity { .. })
    ));
}

#[test]
fn a_passphrase_vault_refuses_to_add_without_the_passphrase() {
    let d = tempfile::tempdir().unwrap();
    let v = Vault::init(
        &d.path().join("v"),
        vec![],
        Some(&SecretString::from("the passphrase")),
    )
    .unwrap();
    assert!(v.config.passphrase);
    let err = v.add(vec![item("p", None, "P", "k")], None).unwrap_err();
    assert!(matches!(err, VaultError::PassphraseNeeded));
    assert!(v.entries().unwrap().is_empty());
}

#[test]
fn the_envelope_password_is_secret_in_memory_and_unchanged_on_disk() {
    let json = r#"{"format":"nkp-escrow-envelope/1","p12_base64":"AAE=","password":"s3cret-pw","metadata":{"label":"x"}}"#;
    let env: Envelope = serde_json::from_str(json).unwrap();
    assert_eq!(env.password.as_ref().unwrap().expose_secret(), "s3cret-pw");
    assert!(!format!("{env:?}").contains("s3cret"));
    assert!(!format!("{:?}", env.password).contains("s3cret"));
    // Byte-compatible serialisation, with and without a password.
    assert_eq!(serde_json::to_string(&env).unwrap(), json);
    let none = json.replace(r#""s3cret-pw""#, "null");
    let env: Envelope = serde_json::from_str(&none).unwrap();
    assert!(env.password.is_none());
    assert_eq!(serde_json::to_string(&env).unwrap(), none);
    // A missing field reads as no password, as before.
    let env: Envelope =
        serde_json::from_str(r#"{"format":"f","p12_base64":"","metadata":null}"#).unwrap();
    assert!(env.password.is_none());
}
