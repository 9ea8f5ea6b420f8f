//! Writes the deterministic PKCS#12 fixtures under `testdata/` and `expected.json` with the
//! values each must yield. Run through `testdata/generate.sh` (which also makes the OpenSSL-
//! and JDK-written files). Same seed, same bytes.
//!
//! Usage: cargo run --release --example gen_fixtures -- <testdata dir>

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use base64::Engine;
use nkp_pkcs12::describe::fingerprint;
use nkp_pkcs12::pbe::HashAlg;
use nkp_pkcs12::write::{legacy, strong, Builder, Content, Enc, Protect};
use serde_json::{json, Value};

const ITER: u64 = 2048;

/// Deterministic key bytes.
fn key(label: &str, len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0u32;
    while out.len() < len {
        let d = <sha2::Sha256 as sha2::Digest>::digest(
            format!("nkp-escrow fixture {label} {i}").as_bytes(),
        );
        out.extend_from_slice(&d);
        i += 1;
    }
    out.truncate(len);
    out
}

/// Deterministic v4 UUID (text, lowercase).
fn uuid(label: &str) -> (String, Vec<u8>) {
    let mut b = key(&format!("uuid {label}"), 16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    (nkp_escrow::nkp::uuid_text(&b), b)
}

struct Provider {
    name: String,
    key_id: String,
    key_id_raw: Vec<u8>,
    export_time: &'static str,
    tpm: bool,
    kdk: Vec<u8>,
}

fn provider(
    name: &str,
    tag: &str,
    export_time: &'static str,
    tpm: bool,
    kdk_len: usize,
) -> Provider {
    let (key_id, key_id_raw) = uuid(&format!("{name} {tag}"));
    Provider {
        name: name.into(),
        key_id,
        key_id_raw,
        export_time,
        tpm,
        kdk: key(&format!("kdk {name} {tag}"), kdk_len),
    }
}

/// R2 storage styles.
#[derive(Clone, Copy, Debug)]
enum Style {
    /// R2a raw secretBag + metadata bag paired by localKeyId (UUID text).
    Raw,
    /// R2b Java-style shrouded secretBag; name from friendlyName, key_id from a raw
    /// 16-byte localKeyId, the rest from a metadata bag.
    JavaLike,
    /// R2c keyBag, friendlyName + 16-byte localKeyId, no metadata.
    KeyBag,
    /// R2c pkcs8ShroudedKeyBag + metadata (camelCase fields) paired by localKeyId.
    Shrouded,
    /// R2d one JSON document with everything, the KDK in base64.
    Json,
}

/// Add the bags of `p` in `style`; returns the expected provider record.
fn add(b: Builder, p: &Provider, style: Style) -> (Builder, Value) {
    let mut exp = json!({
        "name": p.name, "key_id": p.key_id, "export_time": p.export_time,
        "tpm_required": p.tpm, "kdk_bits": p.kdk.len() * 8,
        "kdk_fingerprint": fingerprint(&p.kdk),
    });
    let b = match style {
        Style::Raw => b
            .bag(
                Content::SecretRaw(p.kdk.clone()),
                Some(&p.name),
                Some(p.key_id.as_bytes()),
            )
            .bag(
                Content::SecretJson(
                    json!({"provider": p.name, "export_time": p.export_time,
                           "constraints": {"tpm_required": p.tpm}})
                    .to_string(),
                ),
                None,
                Some(p.key_id.as_bytes()),
            ),
        Style::JavaLike => b
            .bag(
                Content::SecretShroudedAes(p.kdk.clone()),
                Some(&p.name),
                Some(&p.key_id_raw),
            )
            .bag(
                Content::SecretJson(
                    json!({"exportTime": p.export_time, "tpmRequired": p.tpm}).to_string(),
                ),
                None,
                Some(&p.key_id_raw),
            ),
        Style::KeyBag => {
            exp["export_time"] = Value::Null;
            exp["tpm_required"] = Value::Null;
            b.bag(
                Content::KeyBagAes(p.kdk.clone()),
                Some(&p.name),
                Some(&p.key_id_raw),
            )
        }
        Style::Shrouded => b
            .bag(
                Content::ShroudedAes(p.kdk.clone()),
                Some("ignored-friendly-name"),
                Some(b"Time 1700000000000"),
            )
            .bag(
                Content::SecretJson(
                    json!({"name": p.name, "keyId": p.key_id.to_uppercase(),
                           "exportTime": p.export_time, "tpmRequired": p.tpm})
                    .to_string(),
                ),
                None,
                Some(b"Time 1700000000000"),
            ),
        Style::Json => b.bag(
            Content::SecretJson(
                json!({"provider": p.name, "key_id": p.key_id, "export_time": p.export_time,
                       "tpm_required": p.tpm,
                       "kdk": base64::engine::general_purpose::STANDARD.encode(&p.kdk)})
                .to_string(),
            ),
            Some("nkp-metadata"),
            None,
        ),
    };
    (b, exp)
}

struct Out {
    dir: PathBuf,
    expected: Vec<Value>,
}

impl Out {
    fn write(&mut self, name: &str, bytes: &[u8], expect: Value) {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).expect("write fixture");
        let mut e = expect;
        e["file"] = json!(name);
        self.expected.push(e);
    }
}

fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "testdata".into()));
    p12_matrix(&root.join("p12"));
    estate(&root.join("estate/share"));
    sparse_vmdk(&root.join("evidence/datastore1/sparse-vm"));
}

/// A monolithic sparse extent whose embedded descriptor names NKP-DATA; 64 KiB on disk.
fn sparse_vmdk(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let blob = "ASEAAgEAPyqcEBERSlucjQAAAAAAAQEIAAwAEAAgAAQAQUVTLTI1NgDL3nADspHb3KQMBGmEIEKBR9d4f4NfmB3ruF8+FXCp+cvecAOykdvcpAwEaYQgQoFH13h/g1+YHeu4Xz6ghgEA";
    let ks = format!(
        "vmware:key/list/(pair/(fqid/<VMWARE-NULL>/NKP-DATA/{},HMAC%2dSHA%2d256,AAAA))",
        nkp_escrow::evidence::keysafe::escape(blob.as_bytes())
    );
    let descriptor = format!(
        "# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\ncreateType=\"monolithicSparse\"\n\n# Extent description\nRW 20971520 SPARSE \"sparse-vm.vmdk\"\n\n# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\nencryptionKeys = \"{ks}\"\n"
    );
    let mut bytes = nkp_escrow::evidence::vmdk::sparse_header(&descriptor, 20_971_520);
    bytes.resize(64 * 1024, 0);
    std::fs::write(dir.join("sparse-vm.vmdk"), bytes).expect("write");
}

const PW_STRONG: &str = "Str0ng!Escrow#Pass-2026";
const PW_LEGACY: &str = "legacy-pass-3des";

fn p12_matrix(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    // passwords.txt: line 1 wrong, line 2 empty, line 3 strong, line 4 legacy.
    std::fs::write(
        dir.join("passwords.txt"),
        format!("not-the-password\n\n{PW_STRONG}\n{PW_LEGACY}\n"),
    )
    .expect("write passwords");
    let mut out = Out {
        dir: dir.to_path_buf(),
        expected: Vec::new(),
    };
    let styles = [
        ("raw", Style::Raw),
        ("javastyle", Style::JavaLike),
        ("keybag", Style::KeyBag),
        ("shrouded", Style::Shrouded),
        ("json", Style::Json),
    ];
    let protections: [(&str, Protect, &str, bool, Option<usize>); 4] = [
        ("none", Protect::None, "unprotected", false, None),
        (
            "empty",
            Protect::Password {
                password: String::new(),
                enc: Enc::Pbes2 {
                    prf: HashAlg::Sha256,
                    aes_bits: 256,
                    iterations: ITER,
                },
                mac: Some((HashAlg::Sha256, ITER)),
            },
            "unprotected",
            false,
            None,
        ),
        (
            "pbes2-aes256-sha256",
            strong(PW_STRONG, ITER),
            "strong",
            true,
            Some(3),
        ),
        (
            "legacy-3des-sha1",
            legacy(PW_LEGACY, ITER),
            "weak",
            true,
            Some(4),
        ),
    ];
    let mut seed = 100;
    for (sname, style) in styles {
        for (pname, protect, verdict, protected, line) in &protections {
            if matches!(protect, Protect::None)
                && matches!(style, Style::JavaLike | Style::Shrouded)
            {
                continue; // a shrouded bag needs a password (possibly empty)
            }
            seed += 1;
            let p = provider(
                &format!("NKP-{}", sname.to_uppercase()),
                pname,
                "2025-06-01T10:20:30Z",
                seed % 2 == 0,
                32,
            );
            let mut b = Builder::new(protect.clone());
            b.seed = seed;
            let (b, exp) = add(b, &p, style);
            out.write(
                &format!("{sname}-{pname}.p12"),
                &b.build(),
                json!({"type": "nkp-backup", "verdict": verdict, "password_protected": protected,
                       "password_line": line, "providers": [exp]}),
            );
        }
    }

    // Variations: BER indefinite lengths, absent-password MAC, HMAC-SHA1 PRF, key sizes,
    // two providers in one file, bag order.
    let p = provider("NKP-BER", "ber", "2024-12-24T08:00:00+01:00", true, 32);
    let mut b = Builder::new(strong(PW_STRONG, ITER));
    b.ber = true;
    b.seed = 201;
    let (b, exp) = add(b, &p, Style::Shrouded);
    out.write(
        "ber-indefinite.p12",
        &b.build(),
        json!({"type": "nkp-backup", "verdict": "strong",
        "password_protected": true, "password_line": 3, "providers": [exp]}),
    );

    let p = provider("NKP-ABSENT", "absent", "2025-01-02T03:04:05Z", false, 32);
    let mut b = Builder::new(Protect::AbsentPasswordMac {
        mac: HashAlg::Sha256,
    });
    b.seed = 202;
    let (b, exp) = add(b, &p, Style::Raw);
    out.write("absent-password-mac.p12", &b.build(), json!({"type": "nkp-backup",
        "verdict": "unprotected", "password_protected": false, "password_line": null, "providers": [exp]}));

    let p = provider("NKP-SHA1PRF", "sha1prf", "2025-02-03T04:05:06Z", false, 32);
    let mut b = Builder::new(Protect::Password {
        password: PW_STRONG.into(),
        enc: Enc::Pbes2 {
            prf: HashAlg::Sha1,
            aes_bits: 128,
            iterations: ITER,
        },
        mac: Some((HashAlg::Sha256, ITER)),
    });
    b.seed = 203;
    let (b, exp) = add(b, &p, Style::Json);
    out.write(
        "pbes2-hmac-sha1-prf.p12",
        &b.build(),
        json!({"type": "nkp-backup", "verdict": "weak",
        "password_protected": true, "password_line": 3, "providers": [exp]}),
    );

    let p16 = provider("NKP-AES128", "k16", "2025-03-04T05:06:07Z", false, 16);
    let p64 = provider("NKP-K64", "k64", "2025-04-05T06:07:08Z", true, 64);
    let mut b = Builder::new(strong(PW_STRONG, ITER));
    b.seed = 204;
    let (b, e16) = add(b, &p16, Style::Raw);
    let (b, e64) = add(b, &p64, Style::JavaLike);
    out.write("two-providers-16-and-64-byte.p12", &b.build(), json!({"type": "nkp-backup",
        "verdict": "strong", "password_protected": true, "password_line": 3, "providers": [e16, e64]}));

    // Metadata before the key, in the same bag list.
    let p = provider("NKP-ORDER", "order", "2025-05-06T07:08:09Z", true, 32);
    let mut b = Builder::new(strong(PW_STRONG, ITER));
    b.seed = 205;
    b = b.bag(
        Content::SecretJson(
            json!({"providerId": p.name, "key_id": p.key_id,
            "export_time": p.export_time, "tpm_required": p.tpm})
            .to_string(),
        ),
        None,
        Some(b"lki-order"),
    );
    b = b.bag(
        Content::SecretRaw(p.kdk.clone()),
        Some("other-name"),
        Some(b"lki-order"),
    );
    let exp = json!({"name": p.name, "key_id": p.key_id, "export_time": p.export_time,
        "tpm_required": p.tpm, "kdk_bits": 256, "kdk_fingerprint": fingerprint(&p.kdk)});
    out.write(
        "metadata-first.p12",
        &b.build(),
        json!({"type": "nkp-backup", "verdict": "strong",
        "password_protected": true, "password_line": 3, "providers": [exp]}),
    );

    // Negatives.
    let neg = dir.join("negative");
    std::fs::create_dir_all(&neg).expect("mkdir");
    let mut nout = Out {
        dir: neg,
        expected: Vec::new(),
    };
    let p = provider("NKP-NEG", "neg", "2025-06-07T08:09:10Z", false, 32);
    let mut b = Builder::new(strong("a password nobody has", ITER));
    b.seed = 301;
    let (b, _) = add(b, &p, Style::Raw);
    let locked = b.build();
    nout.write(
        "unknown-password.p12",
        &locked,
        json!({"type": "pkcs12-other", "error": "wrong-password",
        "error_without_passwords": "password-required"}),
    );
    nout.write(
        "truncated.p12",
        &locked[..locked.len() / 2],
        json!({"type": "not-pkcs12", "error": "truncated"}),
    );
    nout.write("vcsim-export.p12", br#"{"Provider":"NKP","KeyId":"00000000-0000-0000-0000-000000000000","Config":"bm90IGEgcmVhbCBrZXk="}"#,
        json!({"type": "not-pkcs12", "error": "not-pkcs12", "hint_contains": "vcsim"}));
    nout.write(
        "empty.p12",
        b"",
        json!({"type": "not-pkcs12", "error": "not-pkcs12"}),
    );
    let mut b = Builder::new(strong(PW_STRONG, ITER));
    b.seed = 302;
    b.claim_iterations = Some(50_000_000);
    let (b, _) = add(b, &p, Style::Json);
    nout.write(
        "huge-iterations.p12",
        &b.build(),
        json!({"type": "pkcs12-other", "error": "limits-exceeded"}),
    );
    let mut b = Builder::new(strong(PW_STRONG, ITER));
    b.seed = 303;
    b = b.bag(
        Content::SecretOther("1.2.3.4".into(), key("opaque", 48)),
        Some("not-a-kdk"),
        None,
    );
    nout.write(
        "opaque-48-byte-secret.p12",
        &b.build(),
        json!({"type": "pkcs12-other", "error": null}),
    );
    let mut b = Builder::new(strong(PW_STRONG, ITER));
    b.seed = 304;
    b = b.bag(
        Content::SecretJson(
            json!({"provider": "NKP-ORPHAN", "key_id": uuid("orphan").0}).to_string(),
        ),
        None,
        Some(b"x"),
    );
    nout.write(
        "metadata-without-key.p12",
        &b.build(),
        json!({"type": "pkcs12-other", "error": null}),
    );

    write_expected(&out.dir.join("expected.json"), &out.expected);
    write_expected(&nout.dir.join("expected.json"), &nout.expected);
}

fn estate(dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let pws = [
        "Pr0d-Escrow!2025-NKP#vault",
        "dr-2024",
        "Lab-Java-Keystore!2026",
        "tls-export-pass",
    ];
    std::fs::write(dir.join("passwords.txt"), pws.join("\n") + "\n").expect("write");
    let mut out = Out {
        dir: dir.to_path_buf(),
        expected: Vec::new(),
    };
    let prod_old = provider("NKP-PROD", "original", "2025-03-01T09:00:00Z", false, 32);
    let mut b = Builder::new(strong(pws[0], 10_000));
    b.seed = 401;
    let (b, e) = add(b, &prod_old, Style::Json);
    out.write("NKP-PROD.p12", &b.build(), json!({"providers": [e]}));
    let prod_new = provider("NKP-PROD", "recreated", "2025-09-12T14:30:00Z", false, 32);
    let mut b = Builder::new(strong(pws[0], 10_000));
    b.seed = 402;
    let (b, e) = add(b, &prod_new, Style::Raw);
    out.write("NKP-PROD (1).p12", &b.build(), json!({"providers": [e]}));
    let vdi = provider("NKP-VDI", "old", "2024-01-15T12:00:00Z", true, 32);
    let mut b = Builder::new(Protect::None);
    b.seed = 403;
    let (b, e) = add(b, &vdi, Style::KeyBag);
    out.write("backup-old.p12", &b.build(), json!({"providers": [e]}));
    let dr = provider("NKP-DR", "dr", "2024-06-30T23:59:59Z", false, 32);
    let mut b = Builder::new(legacy(pws[1], 2048));
    b.seed = 404;
    let (b, e) = add(b, &dr, Style::Raw);
    out.write("nkp-dr-2024.p12", &b.build(), json!({"providers": [e]}));
    write_expected(&dir.join("expected.json"), &out.expected);
}

fn write_expected(path: &Path, v: &[Value]) {
    let text = serde_json::to_string_pretty(v).expect("json") + "\n";
    std::fs::write(path, text).expect("write expected");
}
