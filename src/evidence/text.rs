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
}

/// Recognise a shell prompt; returns (host, command).
///
/// Accepted: `[root@esxi51:~] cmd` (ESXi), `root@vcsa01 [ ~ ]# cmd` (VCSA),
/// `user@host:~$ cmd`, `VCDB=# cmd` (psql: no host).
pub fn prompt(line: &str) -> Option<(Option<&str>, &str)> {
    let t = line.trim_start();
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

/// Split text into lines with prompt context.
pub fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut host = None;
    let mut command = None;
    let mut block = 0;
    for (i, raw) in text.split('\n').enumerate() {
        let t = raw.strip_suffix('\r').unwrap_or(raw);
        let p = prompt(t);
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
