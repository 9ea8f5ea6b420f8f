//! When was an evidence file captured? Saved command output often states a time: a
//! `generated_at` field, a timestamped shell prompt, a `date` run before the commands, psql
//! timestamps. The newest time the content states (and not in the future) is the earliest moment
//! the capture can have been made: a two-year-old `kms.ls` cannot pass as today's. Without one,
//! the file's modification time is all there is, and the report says which it used.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// How much of a file is searched for a stated time.
pub const SCAN_LIMIT: usize = 1 << 20;

/// The newest time `text` states that is not after `now` (plus a day of clock skew), looking at
/// the first [`SCAN_LIMIT`] bytes. Recognised: RFC 3339 and ISO 8601 date-times (`T` or a space
/// between date and time, with `Z`, `+hh:mm`, `+hhmm`, `+hh` or no offset, read as UTC), and
/// `date(1)` output (`Mon Nov 30 10:15:02 UTC 2026`, UTC only).
pub fn stated_time(text: &[u8], now: OffsetDateTime) -> Option<OffsetDateTime> {
    let text = &text[..text.len().min(SCAN_LIMIT)];
    let limit = now + time::Duration::days(1);
    let mut best: Option<OffsetDateTime> = None;
    let mut consider = |t: OffsetDateTime| {
        if t <= limit && best.is_none_or(|b| t > b) {
            best = Some(t);
        }
    };
    let mut i = 0;
    while i + 16 <= text.len() {
        let b = text[i];
        if b.is_ascii_digit() && (i == 0 || !text[i - 1].is_ascii_digit()) {
            if let Some((t, used)) = iso(&text[i..]) {
                consider(t);
                i += used;
                continue;
            }
        } else if b.is_ascii_uppercase() && (i == 0 || !text[i - 1].is_ascii_alphabetic()) {
            if let Some((t, used)) = date_1(&text[i..]) {
                consider(t);
                i += used;
                continue;
            }
        }
        i += 1;
    }
    best
}

fn digits(s: &[u8], n: usize) -> Option<u32> {
    let d = s.get(..n)?;
    d.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// A calendar date and time from its parts (a leap second reads as :59); `None` if invalid.
fn datetime(
    year: u32,
    month: u32,
    day: u32,
    h: u32,
    m: u32,
    sec: u32,
) -> Option<PrimitiveDateTime> {
    let date = Date::from_calendar_date(
        i32::try_from(year).ok()?,
        Month::try_from(u8::try_from(month).ok()?).ok()?,
        u8::try_from(day).ok()?,
    )
    .ok()?;
    let t = Time::from_hms(
        u8::try_from(h).ok()?,
        u8::try_from(m).ok()?,
        u8::try_from(sec.min(59)).ok()?,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(date, t))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|+hh[:mm]|+hhmm]`: the time and the bytes used.
fn iso(s: &[u8]) -> Option<(OffsetDateTime, usize)> {
    let year = digits(s, 4)?;
    if s.get(4) != Some(&b'-') || s.get(7) != Some(&b'-') || s.get(13) != Some(&b':') {
        return None;
    }
    if !matches!(s.get(10), Some(b'T' | b' ' | b't')) || s.get(16) != Some(&b':') {
        return None;
    }
    let (month, day) = (digits(&s[5..], 2)?, digits(&s[8..], 2)?);
    let (h, m, sec) = (
        digits(&s[11..], 2)?,
        digits(&s[14..], 2)?,
        digits(s.get(17..)?, 2)?,
    );
    let at = datetime(year, month, day, h, m, sec)?;
    let mut used = 19;
    if s.get(used) == Some(&b'.') {
        used += 1;
        while s.get(used).is_some_and(u8::is_ascii_digit) && used < 40 {
            used += 1;
        }
    }
    let offset = match s.get(used) {
        Some(b'Z' | b'z') => {
            used += 1;
            UtcOffset::UTC
        }
        Some(&sign @ (b'+' | b'-')) => {
            let rest = &s[used + 1..];
            let oh = digits(rest, 2);
            let (om, len) = match (rest.get(2), digits(rest.get(3..).unwrap_or(&[]), 2)) {
                (Some(b':'), Some(om)) => (om, 5),
                _ => match digits(rest.get(2..).unwrap_or(&[]), 2) {
                    Some(om) => (om, 4),
                    None => (0, 2),
                },
            };
            match oh {
                Some(oh) if oh <= 23 && om <= 59 => {
                    used += 1 + len;
                    let secs = i32::try_from(oh * 3600 + om * 60).ok()?;
                    UtcOffset::from_whole_seconds(if sign == b'-' { -secs } else { secs })
                        .unwrap_or(UtcOffset::UTC)
                }
                _ => UtcOffset::UTC,
            }
        }
        _ => UtcOffset::UTC,
    };
    Some((at.assume_offset(offset), used))
}

/// `Www Mmm [D]D HH:MM:SS UTC YYYY` (what `date` prints in the C locale with TZ=UTC).
fn date_1(s: &[u8]) -> Option<(OffsetDateTime, usize)> {
    const DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    if !DAYS.contains(&s.get(..3)?) || s.get(3) != Some(&b' ') {
        return None;
    }
    let month = MONTHS.iter().position(|m| Some(*m) == s.get(4..7))?;
    let mut p = 8;
    while s.get(p) == Some(&b' ') {
        p += 1;
    }
    let day_len = if s.get(p + 1).is_some_and(u8::is_ascii_digit) {
        2
    } else {
        1
    };
    let day = digits(s.get(p..)?, day_len)?;
    p += day_len;
    if s.get(p) != Some(&b' ') {
        return None;
    }
    p += 1;
    let (h, m, sec) = (
        digits(s.get(p..)?, 2)?,
        digits(s.get(p + 3..)?, 2)?,
        digits(s.get(p + 6..)?, 2)?,
    );
    if s.get(p + 2) != Some(&b':') || s.get(p + 5) != Some(&b':') {
        return None;
    }
    p += 8;
    if s.get(p..p + 5)? != b" UTC " {
        return None;
    }
    p += 5;
    let year = digits(s.get(p..)?, 4)?;
    let month = u32::try_from(month + 1).ok()?;
    Some((datetime(year, month, day, h, m, sec)?.assume_utc(), p + 4))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn now() -> OffsetDateTime {
        Date::from_calendar_date(2026, Month::December, 2)
            .map(|d| d.with_hms(12, 0, 0).map(PrimitiveDateTime::assume_utc))
            .ok()
            .and_then(Result::ok)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    fn at(s: &str) -> Option<String> {
        stated_time(s.as_bytes(), now()).map(|t| {
            t.to_offset(UtcOffset::UTC)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        })
    }

    #[test]
    fn generated_at_and_rfc3339() {
        assert_eq!(
            at(r#"{"generated_at": "2026-11-30T10:15:02Z", "providers": []}"#).as_deref(),
            Some("2026-11-30T10:15:02Z")
        );
        assert_eq!(
            at("created 2024-01-05T08:00:00.123456+02:00").as_deref(),
            Some("2024-01-05T06:00:00Z")
        );
    }

    #[test]
    fn psql_and_prompt_timestamps() {
        let psql = " id | name\n----+-----\n  1 | esx01 | 2025-06-01 09:30:00.5+00\n(1 row)\n";
        assert_eq!(at(psql).as_deref(), Some("2025-06-01T09:30:00Z"));
        let prompt = "[2026-10-01 07:00:01] [root@esx01:~] esxcli system settings encryption get\n";
        assert_eq!(at(prompt).as_deref(), Some("2026-10-01T07:00:01Z"));
    }

    #[test]
    fn date_output_and_the_newest_wins() {
        let t =
            "$ date\nMon Nov 30 10:15:02 UTC 2026\n$ govc kms.ls\n created 2024-02-01 00:00:00\n";
        assert_eq!(at(t).as_deref(), Some("2026-11-30T10:15:02Z"));
        assert_eq!(
            at("Tue Feb  3 01:02:03 UTC 2026").as_deref(),
            Some("2026-02-03T01:02:03Z")
        );
    }

    #[test]
    fn future_times_and_non_times_are_ignored() {
        // A certificate's notAfter is not a capture time.
        assert_eq!(at("notAfter 2036-01-01T00:00:00Z").as_deref(), None);
        assert_eq!(at("version 12345-67-89 10:00:00").as_deref(), None);
        assert_eq!(at("2026-13-01 10:00:00").as_deref(), None);
        assert_eq!(at("no time here").as_deref(), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = stated_time(&b, now());
        }

        #[test]
        fn digits_around_a_time_do_not_panic(y in 0u32..10000, mo in 0u32..20, d in 0u32..40,
                h in 0u32..30, mi in 0u32..70, s in 0u32..70, tail in "[0-9Z:+ .-]{0,8}") {
            let t = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}{tail}");
            let _ = stated_time(t.as_bytes(), now());
        }
    }
}
