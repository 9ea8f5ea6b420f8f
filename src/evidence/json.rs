//! JSON sources, recognised by shape (not by the command that produced them):
//!
//! - ConfigStore `kms_providers`: `[{"native_provider": {"key_id": ..}, "provider": .., "type": "NATIVE"}]`
//!   gives the authoritative provider name -> key_id map of a host. `key_derivation_key` is
//!   never read into anything that is kept.
//! - ConfigStore `host_encryption_key`: `{"provider": .., "wrapped_key": <blob>}`.
//! - `govc kms.ls -json`: `{"info": [{"clusterId": {"id": ..}, "keyId": ..}]}`.
//! - `govc vm.info -json` / vim API: `virtualMachines[].config.keyId` and per-disk
//!   `config.hardware.device[].backing.keyId`.
//! - vCenter REST provider: `{"type": "NATIVE", "native_info": {"key_id": ..}}` (the provider
//!   name is not in the body: taken from a `provider` field or the file name).
//! - PowerCLI `ConvertTo-Json`: any object with `KeyId` and `ProviderId`.
//!
//! Several JSON documents may sit in one text between shell prompts; terminal line wraps inside
//! strings are repaired.

use serde_json::{Map, Value};

use super::text::Line;
use super::Collector;
use super::{Seen, State, Subject};

/// Case-insensitive field lookup.
fn get<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).or_else(|| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn get_str<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    get(o, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn path_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = get(cur.as_object()?, p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// Remove line breaks that a terminal inserted inside JSON strings.
fn repair_wraps(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_str = false;
    let mut esc = false;
    for ch in s.chars() {
        if in_str {
            if esc {
                esc = false;
            } else if ch == '\\' {
                esc = true;
            } else if ch == '"' {
                in_str = false;
            } else if ch == '\n' || ch == '\r' {
                continue;
            }
        } else if ch == '"' {
            in_str = true;
        }
        out.push(ch);
    }
    out
}

/// Largest document copied for repairing terminal line wraps.
const MAX_REPAIR: usize = 8 << 20;

/// Parse every JSON document in `text`: from lines that start with `{` or `[`, up to the next
/// prompt. Returns (index into `lines`, value). Parsing runs on slices of `text` (no copy); a
/// copy is made only to repair a line wrap inside a string, and only up to `MAX_REPAIR`.
pub fn documents(text: &str, lines: &[Line<'_>]) -> Vec<(usize, Value)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].text.trim_start();
        if lines[i].is_prompt || !(t.starts_with('{') || t.starts_with('[')) {
            i += 1;
            continue;
        }
        // The document runs at most to the next prompt.
        let end = lines[i + 1..]
            .iter()
            .position(|l| l.is_prompt)
            .map(|p| i + 1 + p)
            .unwrap_or(lines.len());
        let start_off = lines[i].offset.min(text.len());
        let end_off = lines
            .get(end)
            .map(|l| l.offset)
            .unwrap_or(text.len())
            .clamp(start_off, text.len());
        let chunk = &text[start_off..end_off];
        let parse = |c: &str| -> Result<(Value, usize), serde_json::Error> {
            let mut it = serde_json::Deserializer::from_str(c).into_iter::<Value>();
            match it.next() {
                Some(Ok(v)) => Ok((v, c[..it.byte_offset()].matches('\n').count().max(1))),
                Some(Err(e)) => Err(e),
                None => Err(serde::de::Error::custom("empty")),
            }
        };
        let parsed = match parse(chunk) {
            Ok(x) => Some(x),
            // A raw line break inside a string: a terminal wrapped a long value.
            Err(e) if e.to_string().contains("control character") => {
                let limit = chunk.len().min(MAX_REPAIR);
                let cut = (0..=limit)
                    .rev()
                    .find(|&k| chunk.is_char_boundary(k))
                    .unwrap_or(0);
                parse(&repair_wraps(&chunk[..cut])).ok()
            }
            Err(_) => None,
        };
        let mut consumed_lines = 1;
        if let Some((v, lines_used)) = parsed {
            consumed_lines = lines_used;
            if matches!(v, Value::Object(_) | Value::Array(_)) {
                out.push((i, v));
            }
        }
        i += consumed_lines;
    }
    out
}

/// Read references from every JSON document in the text.
pub fn scan(text: &str, lines: &[Line<'_>], file_stem: &str, c: &mut Collector) {
    for (idx, v) in documents(text, lines) {
        let line = lines[idx].no;
        let host = lines[idx].host;
        let before = c.count();
        document(&v, line, host, file_stem, c);
        if c.count() == before {
            generic(&v, line, host, c, 0);
        }
    }
}

fn document(v: &Value, line: usize, host: Option<&str>, stem: &str, c: &mut Collector) {
    let line = Some(line);
    match v {
        Value::Array(items) => {
            // ConfigStore kms_providers, or a REST list of providers.
            for it in items {
                let Some(o) = it.as_object() else { continue };
                let Some(name) = get_str(o, "provider") else {
                    continue;
                };
                let key_id = path_str(it, &["native_provider", "key_id"])
                    .or_else(|| path_str(it, &["native_info", "key_id"]));
                let is_configstore = get(o, "native_provider").is_some();
                // A REST provider list ([{"provider", "type", "health"}]) names providers
                // without key_ids: still evidence that they exist.
                if key_id.is_none() && !is_configstore && get_str(o, "type").is_none() {
                    continue;
                }
                let mut details = Vec::new();
                if let Some(t) = get_str(o, "type") {
                    details.push(format!("type {t}").into());
                }
                if let Some(h) = host {
                    details.push(format!("known to host {h}").into());
                }
                c.provider(
                    if is_configstore {
                        "configstore"
                    } else {
                        "vcenter-api"
                    },
                    line,
                    name,
                    key_id,
                    host,
                    details,
                );
            }
        }
        Value::Object(o) => {
            if let (Some(p), Some(w)) = (get_str(o, "provider"), get_str(o, "wrapped_key")) {
                c.add(Seen {
                    kind: "configstore",
                    line,
                    subject: Subject {
                        kind: "host",
                        name: host.unwrap_or("(host not named in the output)").into(),
                    },
                    provider: Some(p.into()),
                    provider_key_id: None,
                    key: Some(w.into()),
                    host,
                    state: State::HostKey,
                    details: vec!["ConfigStore host_encryption_key".into()],
                });
                return;
            }
            if let Some(Value::Array(info)) = get(o, "info") {
                for it in info {
                    let Some(name) = path_str(it, &["clusterId", "id"]) else {
                        continue;
                    };
                    let key_id = path_str(it, &["keyId"]);
                    let native = path_str(it, &["managementType"]) == Some("nativeProvider");
                    if !native && key_id.is_none() {
                        continue;
                    }
                    let mut details = vec![];
                    if let Some(b) = it.get("hasBackup").and_then(Value::as_bool) {
                        details.push(format!("hasBackup {b}").into());
                    }
                    if let Some(b) = it.get("useAsDefault").and_then(Value::as_bool) {
                        details.push(format!("useAsDefault {b}").into());
                    }
                    c.provider("govc", line, name, key_id, host, details);
                }
                return;
            }
            if let Some(Value::Array(vms)) = get(o, "virtualMachines") {
                for vm in vms {
                    vm_info(vm, line, host, c);
                }
                return;
            }
            if let Some(k) = path_str(v, &["native_info", "key_id"]) {
                let (name, detail) = match get_str(o, "provider") {
                    Some(n) => (n.to_string(), "vCenter REST provider".to_string()),
                    None => (
                        stem.to_string(),
                        "vCenter REST provider (name taken from the file name)".to_string(),
                    ),
                };
                let mut details = vec![std::borrow::Cow::Owned(detail)];
                if let Some(h) = get_str(o, "health") {
                    details.push(format!("health {h}").into());
                }
                c.provider("vcenter-api", line, &name, Some(k), host, details);
            }
        }
        _ => {}
    }
}

/// True when an object's `extraConfig` / `ExtraConfig` list (`{key, value}` items, any case)
/// holds a non-empty `encryption.bundle`: the VM is encrypted and needs its key.
fn has_bundle(o: &Map<String, Value>) -> bool {
    get(o, "extraConfig")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|it| {
            get_str(it, "key").is_some_and(|k| k.eq_ignore_ascii_case("encryption.bundle"))
                && get_str(it, "value").is_some_and(|v| !v.is_empty())
        })
}

/// An encrypted VM (by its `encryption.bundle`) whose key reference was not seen.
fn bundle_only(
    kind: &'static str,
    name: String,
    line: Option<usize>,
    host: Option<&str>,
    c: &mut Collector,
) {
    c.add(Seen {
        kind,
        line,
        subject: Subject { kind: "vm", name },
        provider: None,
        provider_key_id: None,
        key: None,
        host,
        state: State::NeedsKey,
        details: vec![
            super::scan::BUNDLE_DETAIL.into(),
            "no key reference was seen: the provider it needs is not known".into(),
        ],
    });
}

/// One VM of `govc vm.info -json`: the VM's key and each disk's.
fn vm_info(vm: &Value, line: Option<usize>, host: Option<&str>, c: &mut Collector) {
    let Some(o) = vm.as_object() else { return };
    let config = get(o, "config");
    let name = get_str(o, "name")
        .or_else(|| config.and_then(|cf| path_str(cf, &["name"])))
        .unwrap_or("(unnamed VM)")
        .to_string();
    let bundle = config.and_then(Value::as_object).is_some_and(has_bundle);
    let mut keyed = false;
    if let Some(kid) = config
        .and_then(|cf| cf.as_object())
        .and_then(|cf| get(cf, "keyId"))
    {
        let key = path_str(kid, &["keyId"]);
        let provider = path_str(kid, &["providerId", "id"]);
        if key.is_some() || provider.is_some() {
            keyed = true;
            let mut details: Vec<std::borrow::Cow<'static, str>> = vec!["config.keyId".into()];
            if bundle {
                details.push(super::scan::BUNDLE_DETAIL.into());
            }
            c.add(Seen {
                kind: "govc",
                line,
                subject: Subject {
                    kind: "vm",
                    name: name.clone(),
                },
                provider: provider.map(String::from),
                provider_key_id: None,
                key: key.map(String::from),
                host,
                state: State::NeedsKey,
                details,
            });
        }
    }
    if bundle && !keyed {
        bundle_only("govc", name.clone(), line, host, c);
    }
    let devices = config
        .and_then(|cf| cf.as_object())
        .and_then(|cf| get(cf, "hardware"))
        .and_then(Value::as_object)
        .and_then(|h| get(h, "device"))
        .and_then(Value::as_array);
    for d in devices.into_iter().flatten() {
        let Some(backing) = d.as_object().and_then(|d| get(d, "backing")) else {
            continue;
        };
        let Some(kid) = backing.as_object().and_then(|b| get(b, "keyId")) else {
            continue;
        };
        let key = path_str(kid, &["keyId"]);
        let provider = path_str(kid, &["providerId", "id"]);
        if key.is_none() && provider.is_none() {
            continue;
        }
        let file = path_str(backing, &["fileName"]).unwrap_or("(disk)");
        c.add(Seen {
            kind: "govc",
            line,
            subject: Subject {
                kind: "disk",
                name: disk_display(file),
            },
            provider: provider.map(String::from),
            provider_key_id: None,
            key: key.map(String::from),
            host,
            state: State::NeedsKey,
            details: vec![format!("disk of VM {name}").into()],
        });
    }
}

/// `[datastore1] vm1/vm1_1.vmdk` -> `vm1/vm1_1.vmdk` (the same name the .vmdk reader gives).
fn disk_display(file: &str) -> String {
    let path = file.rsplit("] ").next().unwrap_or(file);
    super::scan::disk_name(std::path::Path::new(path))
}

/// PowerCLI and anything else: objects that carry a key id and a provider id.
fn generic(v: &Value, line: usize, host: Option<&str>, c: &mut Collector, depth: u32) {
    if depth > 32 {
        return;
    }
    match v {
        Value::Object(o) => {
            let key = get(o, "KeyId").and_then(|k| {
                k.as_str()
                    .map(String::from)
                    .or_else(|| path_str(k, &["KeyId"]).map(String::from))
            });
            let provider = get(o, "ProviderId")
                .and_then(|p| {
                    p.as_str()
                        .map(String::from)
                        .or_else(|| path_str(p, &["Id"]).map(String::from))
                })
                .or_else(|| {
                    get(o, "KeyId")
                        .and_then(|k| path_str(k, &["ProviderId", "Id"]))
                        .map(String::from)
                });
            let bundle = has_bundle(o);
            if key.is_some() && provider.is_some() {
                let name = get_str(o, "Name").unwrap_or("(unnamed)").to_string();
                c.add(Seen {
                    kind: "powercli",
                    line: Some(line),
                    subject: Subject { kind: "vm", name },
                    provider,
                    provider_key_id: None,
                    key,
                    host,
                    state: State::NeedsKey,
                    details: if bundle {
                        vec![super::scan::BUNDLE_DETAIL.into()]
                    } else {
                        Vec::new()
                    },
                });
                return;
            }
            if bundle {
                if let Some(name) = get_str(o, "Name") {
                    bundle_only("powercli", name.to_string(), Some(line), host, c);
                    return;
                }
            }
            for val in o.values() {
                generic(val, line, host, c, depth + 1);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| generic(x, line, host, c, depth + 1)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_strings_are_repaired() {
        assert_eq!(repair_wraps("{\"a\": \"AB\nCD\"}\n"), "{\"a\": \"ABCD\"}\n");
    }
}
