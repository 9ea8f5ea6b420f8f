//! Regenerates the frozen vault folders in `vault/tests/vectors/` and their `expected.json`.
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
use nkp_vault::{Facts, Identities, RecipientSpec, Vault};
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

    // valid: two adds, a drill, a signed checkpoint.
    let dir = fresh(&out, "valid")?;
    let v = base(&dir, &recipient)?;
    let (pkcs8, public) = nkp_vault::checkpoint::generate()?;
    v.checkpoint(&pkcs8)?;
    finish(
        &dir,
        &ids,
        "Two entries, a drill and a checkpoint: verifies.",
        &[public.as_str()],
        json!({
        "ok": true, "events": 3, "entries": 2, "problems": [], "warnings": [],
        "trusted_checkpoints": 1, "decryption_problems": []}),
    )?;

    // head-behind: HEAD names line 2 of 3, as after a crash between manifest and HEAD.
    let dir = fresh(&out, "head-behind")?;
    base(&dir, &recipient)?;
    let lines = manifest_lines(&dir)?;
    std::fs::write(
        dir.join("HEAD"),
        format!("2 {}\n", sha256_hex(lines[1].as_bytes())),
    )?;
    finish(
        &dir,
        &ids,
        "HEAD one step behind (interrupted write): a warning, still ok.",
        &[],
        json!({
        "ok": true, "events": 3, "entries": 2, "problems": [], "warnings": ["head-behind"],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // truncated-manifest: the last line is gone, HEAD still names it.
    let dir = fresh(&out, "truncated-manifest")?;
    base(&dir, &recipient)?;
    let lines = manifest_lines(&dir)?;
    write_lines(&dir, &lines[..2])?;
    finish(
        &dir,
        &ids,
        "The last manifest line was cut off; HEAD still names it.",
        &[],
        json!({
        "ok": false, "events": 2, "entries": 2, "problems": ["head-mismatch"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // reordered-lines: lines 1 and 2 swapped.
    let dir = fresh(&out, "reordered-lines")?;
    base(&dir, &recipient)?;
    let lines = manifest_lines(&dir)?;
    write_lines(
        &dir,
        &[lines[1].clone(), lines[0].clone(), lines[2].clone()],
    )?;
    finish(
        &dir,
        &ids,
        "Manifest lines 1 and 2 swapped: sequence and chain break.",
        &[],
        json!({
        "ok": false, "events": 3, "entries": 2,
        "problems": ["sequence", "chain", "sequence", "chain", "chain"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // swapped-object: the two objects' contents exchanged.
    let dir = fresh(&out, "swapped-object")?;
    let v = base(&dir, &recipient)?;
    let entries = v.entries()?;
    let a = dir
        .join("objects")
        .join(format!("{}.age", entries[0].object));
    let b = dir
        .join("objects")
        .join(format!("{}.age", entries[1].object));
    let (ba, bb) = (std::fs::read(&a)?, std::fs::read(&b)?);
    std::fs::write(&a, bb)?;
    std::fs::write(&b, ba)?;
    finish(
        &dir,
        &ids,
        "The two objects' contents exchanged: neither hashes to its name.",
        &[],
        json!({
        "ok": false, "events": 3, "entries": 2,
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
        "ok": false, "events": 3, "entries": 2,
        "problems": ["checkpoint-signature", "no-trusted-checkpoint"], "warnings": [],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;

    // orphan-and-temp: leftovers of an interrupted add.
    let dir = fresh(&out, "orphan-and-temp")?;
    base(&dir, &recipient)?;
    std::fs::write(
        dir.join("objects").join(format!("{}.age", "0".repeat(64))),
        b"orphan",
    )?;
    std::fs::write(dir.join("objects").join(".x.age.tmp-1"), b"tmp")?;
    finish(
        &dir,
        &ids,
        "An orphan object and a temporary file: warnings, still ok.",
        &[],
        json!({
        "ok": true, "events": 3, "entries": 2, "problems": [],
        "warnings": ["orphan-object", "temp-file"],
        "trusted_checkpoints": 0, "decryption_problems": []}),
    )?;
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
    let v = Vault::init(
        dir,
        vec![RecipientSpec {
            label: "test-only".into(),
            recipient: recipient.into(),
        }],
        false,
    )?;
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
                },
            )
        })
        .collect();
    v.add(items, None)?;
    let first = v.entries()?.remove(0);
    v.record_drill(&first.id, true, "test vector drill".into())?;
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
    let _ = std::fs::remove_file(dir.join(".lock"));
    let v = Vault::open(dir)?;
    let trusted: Vec<String> = trusted.iter().map(|s| s.to_string()).collect();
    let report = v.verify_trusted(&trusted);
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
