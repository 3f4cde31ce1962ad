//! Typed, located reading of hand-written TOML.
//!
//! serde stops at the first problem and forgets where a value came from. Routine and config
//! files are small and hand-written, so we read them from toml's spanned parse tree instead:
//! every value keeps its position, and every problem (syntax, unknown key, wrong type, out of
//! range) is recorded as a [`Diagnostic`] while reading goes on.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

use crate::diagnostic::{Diagnostic, SourceText};
use crate::duration::parse_duration;

/// Reads one TOML file, collecting every problem it meets.
pub struct Checker<'a> {
    src: SourceText<'a>,
    /// Problems found so far, in the order met.
    pub errors: Vec<Diagnostic>,
}

/// A table being read, with the dotted name of where it sits (`""` for the top level).
#[derive(Clone, Copy)]
pub struct Tbl<'t, 'i> {
    /// The parsed table.
    pub table: &'t DeTable<'i>,
    /// Where the table starts (byte offset), for problems about the table as a whole.
    pub pos: usize,
    /// Field path prefix such as `steps[2]`.
    pub prefix: &'t str,
}

impl<'t, 'i> Tbl<'t, 'i> {
    /// The dotted field name of `key` in this table.
    pub fn field(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        self.table.get(key)
    }
}

impl<'a> Checker<'a> {
    /// Prepares to read `text`, which came from `path`.
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Self {
            src: SourceText::new(path, text),
            errors: Vec::new(),
        }
    }

    /// Parses the document, recording syntax errors. Returns `None` if nothing usable was read.
    pub fn parse<'i>(&mut self, text: &'i str) -> Option<Spanned<DeTable<'i>>> {
        let (doc, errors) = DeTable::parse_recoverable(text);
        let had_errors = !errors.is_empty();
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', " ");
            self.errors
                .push(self.src.at(span, "", format!("invalid TOML: {message}")));
        }
        if had_errors { None } else { Some(doc) }
    }

    /// Records a problem at `span` concerning `field`.
    pub fn error(&mut self, span: Range<usize>, field: &str, message: impl Into<String>) {
        self.errors.push(self.src.at(span, field, message));
    }

    /// Records every key of `t` that is not in `allowed`, suggesting the closest allowed key.
    pub fn known_keys(&mut self, t: Tbl<'_, '_>, allowed: &[&str]) {
        for (key, _) in t.table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                continue;
            }
            let hint = closest(name, allowed)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            self.error(
                key.span(),
                &t.field(name),
                format!(
                    "unknown key `{name}`{hint}; allowed here: {}",
                    allowed.join(", ")
                ),
            );
        }
    }

    fn wrong_type(&mut self, t: Tbl<'_, '_>, key: &str, v: &Spanned<DeValue<'_>>, want: &str) {
        let got = v.get_ref().type_str();
        self.error(
            v.span(),
            &t.field(key),
            format!("expected {want}, found {got}"),
        );
    }

    /// An optional string value.
    pub fn string(&mut self, t: Tbl<'_, '_>, key: &str) -> Option<Spanned<String>> {
        let v = t.get(key)?;
        match v.get_ref().as_str() {
            Some(s) => Some(Spanned::new(v.span(), s.to_string())),
            None => {
                self.wrong_type(t, key, v, "a string");
                None
            }
        }
    }

    /// An optional non-empty string value (blank text is reported).
    pub fn text(&mut self, t: Tbl<'_, '_>, key: &str) -> Option<Spanned<String>> {
        let s = self.string(t, key)?;
        if s.get_ref().trim().is_empty() {
            self.error(s.span(), &t.field(key), "must not be empty");
            return None;
        }
        Some(s)
    }

    /// An optional non-empty string that `valid` accepts (its error is reported, located).
    pub fn valid_text(
        &mut self,
        t: Tbl<'_, '_>,
        key: &str,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Option<String> {
        let s = self.text(t, key)?;
        match valid(s.get_ref()) {
            Ok(()) => Some(s.into_inner()),
            Err(msg) => {
                self.error(s.span(), &t.field(key), msg);
                None
            }
        }
    }

    /// An optional boolean.
    pub fn boolean(&mut self, t: Tbl<'_, '_>, key: &str) -> Option<bool> {
        let v = t.get(key)?;
        match v.get_ref().as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(t, key, v, "true or false");
                None
            }
        }
    }

    /// An optional number (integer or float) within `range`.
    pub fn number(
        &mut self,
        t: Tbl<'_, '_>,
        key: &str,
        range: std::ops::RangeInclusive<f64>,
    ) -> Option<f64> {
        let v = t.get(key)?;
        let n = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|n| n as f64),
            DeValue::Float(f) => f.as_str().replace('_', "").parse::<f64>().ok(),
            _ => {
                self.wrong_type(t, key, v, "a number");
                return None;
            }
        };
        match n {
            Some(n) if range.contains(&n) => Some(n),
            _ => {
                self.error(
                    v.span(),
                    &t.field(key),
                    format!("must be a number from {} to {}", range.start(), range.end()),
                );
                None
            }
        }
    }

    /// An optional duration such as `"45s"` or `"1m30s"`, within `min..=max`.
    pub fn duration(
        &mut self,
        t: Tbl<'_, '_>,
        key: &str,
        min: Duration,
        max: Duration,
    ) -> Option<Duration> {
        let s = self.string(t, key)?;
        match parse_duration(s.get_ref()) {
            Ok(d) if d < min || d.is_zero() => {
                let what = if d.is_zero() {
                    "must be longer than zero".to_string()
                } else {
                    format!("is too short; the least is {}", crate::duration::show(min))
                };
                self.error(s.span(), &t.field(key), what);
                None
            }
            Ok(d) if d > max => {
                self.error(
                    s.span(),
                    &t.field(key),
                    format!("is too long; the most is {}", crate::duration::show(max)),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.error(s.span(), &t.field(key), e);
                None
            }
        }
    }

    /// An optional sub-table.
    pub fn table<'t, 'i>(&mut self, t: Tbl<'t, 'i>, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        let v = t.get(key)?;
        if v.get_ref().as_table().is_some() {
            Some(v)
        } else {
            self.wrong_type(t, key, v, "a table");
            None
        }
    }

    /// An optional array.
    pub fn array<'t, 'i>(&mut self, t: Tbl<'t, 'i>, key: &str) -> Option<&'t DeArray<'i>> {
        let v = t.get(key)?;
        match v.get_ref().as_array() {
            Some(a) => Some(a),
            None => {
                self.wrong_type(t, key, v, "an array");
                None
            }
        }
    }

    /// An optional array of non-empty strings.
    pub fn string_list(&mut self, t: Tbl<'_, '_>, key: &str) -> Option<Vec<Spanned<String>>> {
        let items = self.array(t, key)?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref().as_str() {
                Some(s) if !s.trim().is_empty() => {
                    out.push(Spanned::new(item.span(), s.to_string()))
                }
                _ => self.error(
                    item.span(),
                    &format!("{}[{i}]", t.field(key)),
                    "expected a non-empty string",
                ),
            }
        }
        Some(out)
    }

    /// Records that a required key is missing from `t`.
    pub fn missing(&mut self, t: Tbl<'_, '_>, key: &str, what: &str) {
        self.error(t.pos..t.pos, &t.field(key), format!("is missing: {what}"));
    }

    /// Sorts the problems by position, so they read top to bottom.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.errors.sort_by_key(|a| (a.line, a.column));
        self.errors
    }
}

/// The allowed name closest to a mistyped one, if it is close enough to be a likely typo.
fn closest<'s>(name: &str, allowed: &[&'s str]) -> Option<&'s str> {
    allowed
        .iter()
        .map(|a| (edit_distance(name, a), *a))
        .filter(|(d, a)| *d <= 2.max(a.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion() {
        assert_eq!(closest("sya", &["say", "audio", "title"]), Some("say"));
        assert_eq!(closest("durration", &["duration", "say"]), Some("duration"));
        assert_eq!(closest("zzzzzz", &["say", "audio"]), None);
    }
}
