//! Human durations: `45s`, `1m30s`, `2m`.
//!
//! Routine authors and CLI users write durations the way they say them; this module reads them
//! (through the `humantime` crate) and prints them back in the same short form.

use std::time::Duration;

/// Parses a duration such as `45s`, `1m30s` or `1m 30s`. A bare number is refused, because
/// "30" could mean seconds or minutes and a wrong guess breaks a routine silently.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty; write a duration such as \"45s\" or \"1m30s\"".into());
    }
    if t.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!(
            "\"{t}\" has no unit; write \"{t}s\" for seconds or \"{t}m\" for minutes"
        ));
    }
    humantime::parse_duration(t)
        .map_err(|e| format!("\"{t}\" is not a duration ({e}); write e.g. \"45s\" or \"1m30s\""))
}

/// Formats a duration compactly: `1m30s`, `45s`, `2.5s`, `250ms`.
pub fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let secs = ms / 1000;
    let frac = ms % 1000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || frac > 0 || out.is_empty() {
        if frac > 0 {
            let f = format!("{:03}", frac);
            out += &format!("{s}.{}s", f.trim_end_matches('0'));
        } else {
            out += &format!("{s}s");
        }
    }
    out
}

/// Formats a duration as a clock reading, `m:ss.mmm`, for timelines.
pub fn clock(d: Duration) -> String {
    let ms = d.as_millis();
    format!("{}:{:02}.{:03}", ms / 60_000, (ms / 1000) % 60, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_people_write() {
        assert_eq!(parse_duration("45s"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration(" 1m 30s "), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("30").unwrap_err().contains("no unit"));
        assert!(parse_duration("").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn shows_compact_forms() {
        assert_eq!(show(Duration::from_secs(90)), "1m30s");
        assert_eq!(show(Duration::from_secs(45)), "45s");
        assert_eq!(show(Duration::from_millis(2500)), "2.5s");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(Duration::from_secs(3600)), "1h");
        assert_eq!(clock(Duration::from_millis(61_250)), "1:01.250");
    }
}
