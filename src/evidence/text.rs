//! Lines of pasted or captured text, with the context people leave around outputs: shell
//! prompts (which tell the host and the command), echoed commands, blank lines, CRLF.

/// One line with its context.
#[derive(Clone, Debug)]
pub struct Line<'a> {
    /// 1-based line number.
    pub no: usize,
    /// The text, without line ending.
    pub text: &'a str,
    /// Host named by the most recent shell prompt.
    pub host: Option<&'a str>,
    /// Command of the most recent prompt line (the output this line belongs to).
    pub command: Option<&'a str>,
    /// True when this line is itself a prompt.
    pub is_prompt: bool,
    /// Index of the block (text between prompts) this line belongs to.
    pub block: usize,
    /// Byte offset of the line in the text.
    pub offset: usize,
}

/// Recognise a shell prompt; returns (host, command).
///
/// Accepted: `[root@esxi51:~] cmd` (ESXi), `root@vcsa01 [ ~ ]# cmd` (VCSA),
/// `user@host:~$ cmd`, `VCDB=# cmd` (psql: no host).
pub fn prompt(line: &str) -> Option<(Option<&str>, &str)> {
    let t = line.trim_start();
    // Cheap reject: every prompt form has '[' first, an '@', or a psql "=#"/"=>".
    let b = t.as_bytes();
    if b.first() != Some(&b'[')
        && !b.contains(&b'@')
        && !b
            .windows(2)
            .any(|w| w[0] == b'=' && (w[1] == b'#' || w[1] == b'>'))
    {
        return None;
    }
    if let Some(rest) = t.strip_prefix('[') {
        let close = rest.find(']')?;
        let inside = &rest[..close];
        let at = inside.find('@')?;
        let host_end = inside[at + 1..]
            .find([':', ' '])
            .map(|i| at + 1 + i)
            .unwrap_or(inside.len());
        let host = &inside[at + 1..host_end];
        if host.is_empty() || host.contains(char::is_whitespace) {
            return None;
        }
        return Some((Some(host), rest[close + 1..].trim()));
    }
    // psql prompt: NAME=# or NAME=>
    if let Some(i) = t.find("=# ").or_else(|| t.find("=> ")) {
        let name = &t[..i];
        if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some((None, t[i + 3..].trim()));
        }
    }
    // user@host[ :path]$ / # cmd
    let at = t.find('@')?;
    let user = &t[..at];
    if user.is_empty()
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return None;
    }
    let rest = &t[at + 1..];
    let host_end = rest.find([':', ' ', '['])?;
    let host = &rest[..host_end];
    let mark = rest.find(['#', '$'])?;
    if host.is_empty()
        || mark < host_end
        || !rest[host_end..mark].chars().all(|c| c != '"' && c != '=')
    {
        return None;
    }
    Some((Some(host), rest[mark + 1..].trim()))
}

/// True when no line of `text` can be a shell prompt (no `@`, no psql `=#`/`=>`, no line
/// starting with `[`): then prompt detection is skipped.
fn has_no_prompt(text: &str) -> bool {
    let b = text.as_bytes();
    !b.contains(&b'@')
        && !b.windows(2).any(|w| {
            (w[0] == b'=' && (w[1] == b'#' || w[1] == b'>')) || (w[0] == b'\n' && w[1] == b'[')
        })
        && b.first() != Some(&b'[')
}

/// Split text into lines with prompt context.
pub fn lines(text: &str) -> Vec<Line<'_>> {
    let no_prompts = has_no_prompt(text);
    let mut out = Vec::with_capacity(text.len() / 40 + 1);
    let mut host = None;
    let mut command = None;
    let mut block = 0;
    let mut offset = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let start = offset;
        offset += raw.len() + 1;
        let t = raw.strip_suffix('\r').unwrap_or(raw);
        let p = if no_prompts { None } else { prompt(t) };
        if let Some((h, c)) = p {
            if h.is_some() {
                host = h;
            }
            command = Some(c);
            block += 1;
        }
        out.push(Line {
            no: i + 1,
            text: t,
            host,
            command,
            is_prompt: p.is_some(),
            block,
            offset: start,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_give_host_and_command() {
        assert_eq!(
            prompt("[root@esxi51:~] crypto-util keys getkidbyname \"HostKey\""),
            Some((Some("esxi51"), "crypto-util keys getkidbyname \"HostKey\""))
        );
        assert_eq!(
            prompt("root@vcsa01 [ ~ ]# /opt/vmware/vpostgres/current/bin/psql -d VCDB"),
            Some((
                Some("vcsa01"),
                "/opt/vmware/vpostgres/current/bin/psql -d VCDB"
            ))
        );
        assert_eq!(prompt("VCDB=# select 1;"), Some((None, "select 1;")));
        assert_eq!(prompt("admin@host:~$ ls"), Some((Some("host"), "ls")));
        assert_eq!(prompt("displayName = \"a@b\""), None);
        assert_eq!(prompt("\"provider\": \"NKP-PROD\","), None);
    }
}
