//! Regenerates the frozen format-2 vault folders in `vault/tests/vectors/v2/` and their
//! `expected.json` (the format-1 folders in `v1/` were made by this program's format-1 version
//! and are not touched).
//!
//! ```sh
//! cargo run -p nkp-vault --example gen_vectors -- vault/tests/vectors
//! ```
//!
//! Run it only when the format changes on purpose: the point of the vectors is that they do
//! *not* change, so that `tests/test_vectors.rs` catches any drift of the on-disk format or of
//! the verification rules. Encryption and timestamps are not deterministic, so a run rewrites
//! every object and line; commit the result together with the change that needed it.
//!
//! Every vault is encrypted to the **test-only** identity in `test-identity.txt` (created on
//! the first run), so the vectors can also be decrypted in tests. Payloads are tiny fake
//! ".p12" strings: the vault never parses the .p12 itself.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::Write;
use std::path::{Path, PathBuf};

use nkp_vault::store::sha256_hex;
use nkp_vault::{Accessor, Facts, Identities, RecipientSpec, Vault, VerifyOptions};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use zeroize::Zeroizing;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// The backups escrowed in every vector: (fake .p12 bytes, password, provider, key_id).
const ITEMS: &[(&str, Option<&str>, &str, &str)] = &[
    (
        "test-p12-alpha",
        Some("pw-alpha"),
        "NKP-ALPHA",
        "11111111-aaaa-4aaa-8aaa-111111111111",
    ),
    (
        "test-p12-beta",
        None,
        "NKP-BETA",
        "22222222-bbbb-4bbb-8bbb-222222222222",
    ),
];

fn main() -> Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: gen_vectors <vault/tests/vectors>")?,
    );
    std::fs::create_dir_all(&out)?;
    let id_path = out.join("test-identity.txt");
    if !id_path.exists() {
        let id = age::x25519::Identity::generate();
        std::fs::write(
            &id_path,
            format!(
                "# TEST ONLY. This age identity encrypts the frozen test vectors of nkp-vault.\n\
                 # It is public: never use it, or its recipient, for anything real.\n\
                 # public key: {}\n{}\n",
                id.to_public(),
                id.to_string().expose_secret()
            ),
        )?;
    }
    let recipient = std::fs::read_to_string(&id_path)?
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_string))
        .ok_or("test-identity.txt: no `# public key:` line")?;
    let ids = Identities::from_file(&id_path)?;

    let out = out.join("v2");
    std::fs::create_dir_all(&out)?;
    let ok = |events: u64, warnings: &[&str]| {
        json!({"ok": true, "events": events, "entries": 2, "problems": [], "warnings": warnings,
               "trusted_checkpoints": 0, "decryption_problems": []})
    };

    // valid: init, two adds, a drill, a restore, two chained checkpoints.
    let dir = fresh(&out, "valid")?;
    let v = base(&dir, &recipient)?;
    let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
    v.checkpoint(&pkcs8)?;
    let first = v.entries()?.remove(0);
    v.record_restore(&first.id, &by(), Some("test vector restore".into()))?;
    v.checkpoint(&pkcs8)?;
    finish(
        &dir,
        &ids,
        "Custodian set, two entries, a drill, a restore and two chained checkpoints: verifies.",
        &[public.as_str()],
        json!({
        "ok": true, "events": 5, "entries": 2, "problems": [], "warnings": [],
        "trusted_checkpoints": 2, "decryption_problems": []}),
    )?;

    // head-behind: HEAD names line 3 of 4, as after a crash between manifest and HEAD.
    let dir = fresh(&out, "head-behind")?;
    base(&dir, &recipient)?;
    let lines = manifest_lines(&dir)?;
    std::fs::write(
        dir.join("HEAD"),
        format!("3 {}\n", sha256_hex(lines[2].as_bytes())),
    )?;
    finish(
        &dir,
        &ids,
        "HEAD one step behind (interrupted write): a warning, still ok.",
        &[],
        ok(4, &["head-behind"]),
    )?;

    // truncated-manifest: the last line is gone, HEAD still names it.
    let dir = fresh(&out, "truncated-manifest")?;
    base(&dir, &recipient)?;
    let lines = manifest_lines(&dir)?;
    write_lines(&dir, &lines[..3])?;
    finish(
        &dir,
        &ids,
        "The last manifest line was cut off; HEAD still names it.",
        &[],
        json!({
        "ok": false, "events": 3, "entries": 2, "problems": ["head-mismatch"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // reordered-lines: lines 2 and 3 swapped.
    let dir = fresh(&out, "reordered-lines")?;
    base(&dir, &recipient)?;
    let lines = manifest_lines(&dir)?;
    write_lines(
        &dir,
        &[
            lines[0].clone(),
            lines[2].clone(),
            lines[1].clone(),
            lines[3].clone(),
        ],
    )?;
    finish(
        &dir,
        &ids,
        "Manifest lines 2 and 3 swapped: sequence and chain break.",
        &[],
        json!({
        "ok": false, "events": 4, "entries": 2,
        "problems": ["sequence", "chain", "sequence", "chain", "chain"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // swapped-object: the two objects' contents exchanged.
    let dir = fresh(&out, "swapped-object")?;
    let v = base(&dir, &recipient)?;
    let entries = v.entries()?;
    let a = object(&dir, &entries[0].object);
    let b = object(&dir, &entries[1].object);
    let (ba, bb) = (std::fs::read(&a)?, std::fs::read(&b)?);
    std::fs::write(&a, bb)?;
    std::fs::write(&b, ba)?;
    finish(
        &dir,
        &ids,
        "The two objects' contents exchanged: neither hashes to its name.",
        &[],
        json!({
        "ok": false, "events": 4, "entries": 2,
        "problems": ["object-changed", "object-changed"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": ["entry-unopenable", "entry-unopenable"]}),
    )?;

    // bad-checkpoint-signature: one bit of the signature flipped.
    let dir = fresh(&out, "bad-checkpoint-signature")?;
    let v = base(&dir, &recipient)?;
    let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
    v.checkpoint(&pkcs8)?;
    let path = dir.join("checkpoints.jsonl");
    let mut cp: Value = serde_json::from_str(std::fs::read_to_string(&path)?.trim_end())?;
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sig = b64.decode(cp["signature"].as_str().ok_or("no signature")?)?;
    sig[0] ^= 0x01;
    cp["signature"] = Value::String(b64.encode(sig));
    std::fs::write(&path, format!("{}\n", serde_json::to_string(&cp)?))?;
    finish(
        &dir,
        &ids,
        "A checkpoint whose signature was altered; trusted key named.",
        &[public.as_str()],
        json!({
        "ok": false, "events": 4, "entries": 2,
        "problems": ["checkpoint-signature", "no-trusted-checkpoint"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // orphan-and-temp: leftovers of an interrupted add.
    let dir = fresh(&out, "orphan-and-temp")?;
    base(&dir, &recipient)?;
    std::fs::write(object(&dir, &"0".repeat(64)), b"orphan")?;
    std::fs::write(dir.join("objects").join(".x.age.tmp-1"), b"tmp")?;
    finish(
        &dir,
        &ids,
        "An orphan object and a temporary file: warnings, still ok.",
        &[],
        ok(4, &["orphan-object", "temp-file"]),
    )?;

    // config-swapped: vault.yaml's recipient replaced by another key (the chain says otherwise).
    let dir = fresh(&out, "config-swapped")?;
    base(&dir, &recipient)?;
    let other = age::x25519::Identity::generate().to_public().to_string();
    let yaml = std::fs::read_to_string(dir.join("vault.yaml"))?.replace(&recipient, &other);
    std::fs::write(dir.join("vault.yaml"), yaml)?;
    finish(
        &dir,
        &ids,
        "vault.yaml's custodian key replaced: it no longer matches the chain's set.",
        &[],
        json!({
        "ok": false, "events": 4, "entries": 2, "problems": ["config-mismatch"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // config-behind: a rekey (to the test key and a second one) recorded in the chain, and
    // vault.yaml still listing the set before it, as after a crash before vault.yaml.
    let dir = fresh(&out, "config-behind")?;
    let mut v = base(&dir, &recipient)?;
    let before = std::fs::read(dir.join("vault.yaml"))?;
    v.rekey(
        &ids,
        vec![
            spec("test-only", &recipient),
            spec(
                "second",
                &age::x25519::Identity::generate().to_public().to_string(),
            ),
        ],
        &by(),
    )?;
    std::fs::write(dir.join("vault.yaml"), before)?;
    finish(
        &dir,
        &ids,
        "An interrupted rekey: the chain records the new set, vault.yaml the previous one (a warning; the next writer completes it).",
        &[],
        ok(5, &["config-behind"]),
    )?;

    // extra-recipient: the first object re-encrypted to the custodian and one extra key, the
    // manifest rewritten consistently to name it (no checkpoint): only the header shows it.
    let dir = fresh(&out, "extra-recipient")?;
    let v = base(&dir, &recipient)?;
    let first = v.entries()?.remove(0);
    let env = v.open_entry(&first, &ids)?;
    let extra = age::x25519::Identity::generate().to_public().to_string();
    let cipher = encrypt_to(&[&recipient, &extra], &serde_json::to_vec(&env)?)?;
    let new_object = sha256_hex(&cipher);
    std::fs::write(object(&dir, &new_object), &cipher)?;
    std::fs::remove_file(object(&dir, &first.object))?;
    rewrite_chain(&dir, |lines| {
        for l in lines.iter_mut() {
            if l["type"] == "add" && l["id"] == first.id.as_str() {
                l["object"] = Value::String(new_object.clone());
            }
        }
    })?;
    finish(
        &dir,
        &ids,
        "An object encrypted to one recipient more than the recorded set, the chain rewritten to match: the age header shows the extra X25519 stanza.",
        &[],
        json!({
        "ok": false, "events": 4, "entries": 2, "problems": ["object-recipients"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // checkpoint-chain: three checkpoints, the middle one removed.
    let dir = fresh(&out, "checkpoint-chain")?;
    let v = base(&dir, &recipient)?;
    let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
    for _ in 0..3 {
        v.checkpoint(&pkcs8)?;
    }
    let path = dir.join("checkpoints.jsonl");
    let cps: Vec<String> = std::fs::read_to_string(&path)?
        .lines()
        .map(String::from)
        .collect();
    std::fs::write(&path, format!("{}\n{}\n", cps[0], cps[2]))?;
    finish(
        &dir,
        &ids,
        "The middle one of three chained checkpoints removed: the last no longer chains.",
        &[public.as_str()],
        json!({
        "ok": false, "events": 4, "entries": 2, "problems": ["checkpoint-chain"], "warnings": [],
        "trusted_checkpoints": 1, "decryption_problems": []}),
    )?;

    // unsigned-tail: a checkpoint, then a forged drill appended (chained, HEAD updated).
    let dir = fresh(&out, "unsigned-tail")?;
    let v = base(&dir, &recipient)?;
    let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
    v.checkpoint(&pkcs8)?;
    let second = v.entries()?.remove(1);
    v.record_drill(&second.id, true, "a drill nobody signed".into(), &by())?;
    finish(
        &dir,
        &ids,
        "An event after the newest trusted checkpoint: fails unless --allow-unsigned-tail.",
        &[public.as_str()],
        json!({
        "ok": false, "events": 5, "entries": 2, "problems": ["unsigned-tail"], "warnings": [],
        "trusted_checkpoints": 1, "decryption_problems": []}),
    )?;

    // rolled-back: checkpointed at 4 events, then 5 and checkpointed again; the manifest cut
    // back to 4 with HEAD rewritten and the newer checkpoint dropped. The auditor pinned the
    // head of line 5.
    let dir = fresh(&out, "rolled-back")?;
    let v = base(&dir, &recipient)?;
    let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
    v.checkpoint(&pkcs8)?;
    let second = v.entries()?.remove(1);
    v.record_drill(
        &second.id,
        false,
        "a failed drill to be hidden".into(),
        &by(),
    )?;
    v.checkpoint(&pkcs8)?;
    let lines = manifest_lines(&dir)?;
    let pinned = sha256_hex(lines[4].as_bytes());
    write_lines(&dir, &lines[..4])?;
    std::fs::write(
        dir.join("HEAD"),
        format!("4 {}\n", sha256_hex(lines[3].as_bytes())),
    )?;
    let path = dir.join("checkpoints.jsonl");
    let first_cp = std::fs::read_to_string(&path)?
        .lines()
        .next()
        .map(String::from)
        .ok_or("no checkpoint")?;
    std::fs::write(&path, format!("{first_cp}\n"))?;
    finish_with(
        &dir,
        &ids,
        "Rolled back to an older checkpointed state; the auditor pinned seq 5 and its head.",
        &[public.as_str()],
        json!({"expect_seq": 5, "expect_head": pinned}),
        json!({
        "ok": false, "events": 4, "entries": 2, "problems": ["rolled-back", "rolled-back"],
        "warnings": [], "trusted_checkpoints": 1, "decryption_problems": []}),
    )?;
    Ok(())
}

fn spec(label: &str, recipient: &str) -> RecipientSpec {
    RecipientSpec {
        label: label.into(),
        recipient: recipient.into(),
    }
}

fn by() -> Accessor {
    Accessor {
        custodian: "test-only".into(),
        fingerprint: nkp_vault::custody::fingerprint("test"),
        user: "vector-generator".into(),
        host: "localhost".into(),
    }
}

fn object(dir: &Path, id: &str) -> PathBuf {
    dir.join("objects").join(format!("{id}.age"))
}

fn encrypt_to(recipients: &[&str], plain: &[u8]) -> Result<Vec<u8>> {
    let parsed: Vec<Box<dyn age::Recipient + Send>> = recipients
        .iter()
        .map(|r| nkp_vault::crypto::parse_recipient(r))
        .collect::<std::result::Result<_, _>>()?;
    let enc =
        age::Encryptor::with_recipients(parsed.iter().map(|r| r.as_ref() as &dyn age::Recipient))?;
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out)?;
    w.write_all(plain)?;
    w.finish()?;
    Ok(out)
}

/// Edit the manifest's events and re-chain every line (`seq`, `prev`, `HEAD`), as someone
/// rewriting the whole vault folder would.
fn rewrite_chain(dir: &Path, edit: impl FnOnce(&mut Vec<Value>)) -> Result<()> {
    let mut lines: Vec<Value> = manifest_lines(dir)?
        .iter()
        .map(|l| serde_json::from_str(l))
        .collect::<std::result::Result<_, _>>()?;
    edit(&mut lines);
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for (i, mut l) in lines.into_iter().enumerate() {
        l["seq"] = json!(i + 1);
        l["prev"] = Value::String(prev.clone());
        let text = serde_json::to_string(&l)?;
        prev = sha256_hex(text.as_bytes());
        out.push(text);
    }
    write_lines(dir, &out)?;
    std::fs::write(dir.join("HEAD"), format!("{} {prev}\n", out.len()))?;
    Ok(())
}

fn fresh(out: &Path, name: &str) -> Result<PathBuf> {
    let dir = out.join(name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(dir)
}

/// A vault with the two [`ITEMS`] and a passing drill of the first.
fn base(dir: &Path, recipient: &str) -> Result<Vault> {
    let v = Vault::init(dir, vec![spec("test-only", recipient)], None)?;
    let items = ITEMS
        .iter()
        .map(|(p12, pw, provider, key_id)| {
            (
                Zeroizing::new(p12.as_bytes().to_vec()),
                pw.map(SecretString::from),
                Facts {
                    provider: Some(provider.to_string()),
                    key_id: Some(key_id.to_string()),
                    kdk_fingerprint: format!("sha256:{}", sha256_hex(key_id.as_bytes())),
                    verdict: if pw.is_some() {
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
        })
        .collect();
    v.add(items, None)?;
    let first = v.entries()?.remove(0);
    v.record_drill(&first.id, true, "test vector drill".into(), &by())?;
    Ok(v)
}

fn manifest_lines(dir: &Path) -> Result<Vec<String>> {
    Ok(std::fs::read_to_string(dir.join("manifest.jsonl"))?
        .lines()
        .map(String::from)
        .collect())
}

fn write_lines(dir: &Path, lines: &[String]) -> Result<()> {
    let mut f = std::fs::File::create(dir.join("manifest.jsonl"))?;
    for l in lines {
        writeln!(f, "{l}")?;
    }
    Ok(())
}

/// Check that today's code gives the stated outcome, then freeze it in `expected.json`.
fn finish(
    dir: &Path,
    ids: &Identities,
    description: &str,
    trusted: &[&str],
    expected: Value,
) -> Result<()> {
    finish_with(dir, ids, description, trusted, json!({}), expected)
}

/// [`finish`] with verify options (`expect_seq`, `expect_head`, `allow_unsigned_tail`), which
/// are written to `expected.json` too.
fn finish_with(
    dir: &Path,
    ids: &Identities,
    description: &str,
    trusted: &[&str],
    options: Value,
    expected: Value,
) -> Result<()> {
    let _ = std::fs::remove_file(dir.join(".lock"));
    let v = Vault::open(dir)?;
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    let report = v.verify_with(&VerifyOptions {
        trusted: trusted.clone(),
        allow_unsigned_tail: options["allow_unsigned_tail"].as_bool().unwrap_or(false),
        expect_seq: options["expect_seq"].as_u64(),
        expect_head: options["expect_head"].as_str().map(String::from),
    });
    let mut with_ids = nkp_vault::VerifyReport::default();
    v.verify_decryption(ids, &mut with_ids)?;
    let got = json!({
        "ok": report.ok, "events": report.events, "entries": report.entries,
        "problems": report.problems.iter().map(|p| p.kind()).collect::<Vec<_>>(),
        "warnings": report.warnings.iter().map(|w| w.kind()).collect::<Vec<_>>(),
        "trusted_checkpoints": report.trusted_checkpoints,
        "decryption_problems": with_ids.problems.iter().map(|p| p.kind()).collect::<Vec<_>>(),
    });
    let (got, expected) = (sorted(got), sorted(expected));
    if got != expected {
        return Err(format!(
            "{}: verify gives {got:#}, expected {expected:#}",
            dir.display()
        )
        .into());
    }
    let plain: Vec<Value> = ITEMS
        .iter()
        .map(|(p12, pw, provider, _)| json!({"provider": provider, "p12": p12, "password": pw}))
        .collect();
    let mut doc = json!({"description": description, "trusted_keys": trusted, "plaintexts": plain});
    if let (Value::Object(d), Value::Object(e)) = (&mut doc, expected) {
        d.extend(e);
    }
    if let (Value::Object(d), Value::Object(o)) = (&mut doc, options) {
        d.extend(o);
    }
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&doc)? + "\n",
    )?;
    println!("{}: {}", dir.display(), description);
    Ok(())
}

/// Kinds as sorted lists: objects are listed in file system order.
fn sorted(mut v: Value) -> Value {
    for k in ["problems", "warnings", "decryption_problems"] {
        if let Some(Value::Array(a)) = v.get_mut(k) {
            a.sort_by(|x, y| x.as_str().cmp(&y.as_str()));
        }
    }
    v
}
