//! Baby Buddy's REST API, as much of it as letdown uses: children, timers, feedings and
//! pumping entries. Blocking (each call bounded by [`super::TIMEOUT`]): the daemon calls it on
//! its sync worker's thread, beside the coach, and the CLI calls it for `connect`.
//!
//! Times go out as RFC 3339 in UTC and come back with whatever offset the server uses; letdown
//! keeps Unix seconds.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::{Child, TIMEOUT, Token};
use crate::schedule::sync::RemoteFeeding;

/// Items per page when reading lists (Baby Buddy's largest page).
pub const PAGE: usize = 100;
/// The most pages read at once (a bound on a server that never stops answering `next`).
const MAX_PAGES: usize = 50;

/// Why a call failed, in words a parent can act on; never holds the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No connection: the server is down, the address is wrong, or the network is.
    #[error("cannot reach {0}")]
    Unreachable(String),
    /// Connected, but no answer in time.
    #[error("the server did not answer within {} s", TIMEOUT.as_secs())]
    Timeout,
    /// The certificate could not be verified.
    #[error("the server's certificate is not trusted ({0})")]
    Certificate(String),
    /// The server failed (5xx).
    #[error("the server failed (HTTP {0})")]
    Server(u16),
    /// The token was refused (401, 403).
    #[error(
        "the server refused the token (HTTP {0}); make a new API key in Baby Buddy's user settings and put it in the token file"
    )]
    Denied(u16),
    /// The request was refused as it is (400): sending it again will not help.
    #[error("Baby Buddy refused it: {0}")]
    Refused(String),
    /// No such item (404).
    #[error("not found on the server")]
    NotFound,
    /// letdown's own side is not ready (the token file cannot be read): the reason.
    #[error("{0}")]
    Setup(String),
    /// The answer is not what Baby Buddy answers.
    #[error("{0} does not answer like a Baby Buddy server")]
    NotBabyBuddy(String),
}

impl ApiError {
    /// Whether trying again later may succeed (the server down, slow, failing, or a token the
    /// user may still replace); a refusal is final for the request as it is.
    pub fn retryable(&self) -> bool {
        !matches!(self, ApiError::Refused(_) | ApiError::NotBabyBuddy(_))
    }
}

/// A child on the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildInfo {
    /// Baby Buddy's id.
    pub id: u64,
    /// The slug (`jane-doe`).
    pub slug: String,
    /// First and last name.
    pub name: String,
}

/// A feeding to create or change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFeeding {
    /// The child's id.
    pub child: u64,
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds.
    pub end: i64,
    /// `left breast`, `right breast` or `both breasts`.
    pub method: &'static str,
    /// A note (empty: none).
    pub notes: String,
}

impl NewFeeding {
    /// The JSON body Baby Buddy takes.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "child": self.child,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
            "type": "breast milk",
            "method": self.method,
        });
        if !self.notes.is_empty() {
            v["notes"] = json!(self.notes);
        }
        v
    }
}

/// A pumping entry to create (for the pumping log).
#[derive(Debug, Clone, PartialEq)]
pub struct NewPumping {
    /// The child's id.
    pub child: u64,
    /// Millilitres (Baby Buddy's amount has no unit; letdown's is millilitres).
    pub amount_ml: f64,
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds.
    pub end: i64,
    /// A note (empty: none).
    pub notes: String,
}

impl NewPumping {
    /// The JSON body Baby Buddy takes.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "child": self.child,
            "amount": self.amount_ml,
            "start": rfc3339(self.start),
            "end": rfc3339(self.end),
        });
        if !self.notes.is_empty() {
            v["notes"] = json!(self.notes);
        }
        v
    }
}

/// A Unix time as Baby Buddy takes it (UTC, whole seconds).
pub fn rfc3339(unix: i64) -> String {
    Timestamp::from_second(unix)
        .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A time as Baby Buddy gives it (any offset, maybe fractional) as Unix seconds.
pub fn unix(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.as_second())
}

/// One page of a list: its total count and its items.
pub fn page(v: &Value) -> Option<(usize, &Vec<Value>)> {
    let count = v.get("count")?.as_u64()? as usize;
    Some((count, v.get("results")?.as_array()?))
}

/// A feeding as listed; `None` for an item that is not one.
pub fn feeding(v: &Value) -> Option<RemoteFeeding> {
    Some(RemoteFeeding {
        id: v.get("id")?.as_u64()?,
        start: unix(v.get("start")?.as_str()?)?,
        end: unix(v.get("end")?.as_str()?)?,
        method: v.get("method")?.as_str()?.to_string(),
        kind: v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        seen: 0,
    })
}

/// Reads every page of a list, `fetch(offset)` giving one page (a real server, or a test's).
pub fn all_pages(
    mut fetch: impl FnMut(usize) -> Result<Value, ApiError>,
    what: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut items = Vec::new();
    for _ in 0..MAX_PAGES {
        let v = fetch(items.len())?;
        let (count, results) = page(&v).ok_or_else(|| ApiError::NotBabyBuddy(what.to_string()))?;
        items.extend(results.iter().cloned());
        if results.is_empty() || items.len() >= count {
            break;
        }
    }
    Ok(items)
}

/// A Baby Buddy server, with the token to use.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Token,
}

impl Client {
    /// A client for the server at `base` (checked with [`super::check_url`]).
    pub fn new(base: &str, token: Token) -> Client {
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::PlatformVerifier)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            .http_status_as_error(false)
            .tls_config(tls)
            .user_agent(concat!("letdown/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client {
            agent,
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, ApiError> {
        let url = self.url(path);
        let auth = self.token.header();
        let sent = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Authorization", &auth).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("Authorization", &auth)
                .call(),
            ("POST", Some(b)) => self
                .agent
                .post(&url)
                .header("Authorization", &auth)
                .send_json(&b),
            ("PATCH", Some(b)) => self
                .agent
                .patch(&url)
                .header("Authorization", &auth)
                .send_json(&b),
            (m, _) => unreachable!("no {m} call without a body"),
        };
        let mut response = sent.map_err(|e| self.transport(e))?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(8 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| self.transport(e))?;
        match status {
            200..=299 if text.trim().is_empty() => Ok(Value::Null),
            200..=299 => serde_json::from_str(&text).map_err(|_| self.not_baby_buddy()),
            401 | 403 => Err(ApiError::Denied(status)),
            404 => Err(ApiError::NotFound),
            400 | 409 | 422 => Err(ApiError::Refused(refusal(&text))),
            500..=599 => Err(ApiError::Server(status)),
            _ => Err(self.not_baby_buddy()),
        }
    }

    fn not_baby_buddy(&self) -> ApiError {
        ApiError::NotBabyBuddy(self.base.clone())
    }

    fn transport(&self, e: ureq::Error) -> ApiError {
        match e {
            ureq::Error::Timeout(_) => ApiError::Timeout,
            ureq::Error::Tls(m) => ApiError::Certificate(m.to_string()),
            ureq::Error::Rustls(e) => ApiError::Certificate(e.to_string()),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => ApiError::Timeout,
            ureq::Error::HostNotFound => {
                ApiError::Unreachable(format!("{} (no such host)", self.base))
            }
            ureq::Error::ConnectionFailed | ureq::Error::Io(_) => {
                ApiError::Unreachable(self.base.clone())
            }
            _ => ApiError::Unreachable(format!("{} ({e})", self.base)),
        }
    }

    /// The children on the server (also the check that it is Baby Buddy and the token works).
    pub fn children(&self) -> Result<Vec<ChildInfo>, ApiError> {
        let items = all_pages(
            |offset| {
                self.call(
                    "GET",
                    &format!("/api/children/?limit={PAGE}&offset={offset}"),
                    None,
                )
            },
            &self.base,
        )?;
        items
            .iter()
            .map(|c| {
                let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
                Some(ChildInfo {
                    id: c.get("id")?.as_u64()?,
                    slug: s("slug"),
                    name: format!("{} {}", s("first_name"), s("last_name"))
                        .trim()
                        .to_string(),
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.not_baby_buddy())
    }

    /// The id of `child`, looked up by its slug if need be.
    pub fn child_id(&self, child: &Child) -> Result<u64, ApiError> {
        match child {
            Child::Id(id) => Ok(*id),
            Child::Slug(slug) => self
                .children()?
                .into_iter()
                .find(|c| &c.slug == slug)
                .map(|c| c.id)
                .ok_or_else(|| ApiError::Refused(format!("there is no child \"{slug}\""))),
        }
    }

    /// The child's item in `list` (`timers`, `feedings`, `pumping`) that started within a
    /// second of `start`, if there is one whose id is not in `taken` (the items of letdown's
    /// other records): what an earlier try whose answer was lost may have made.
    fn find_at(
        &self,
        list: &str,
        child: u64,
        start: i64,
        taken: &[u64],
    ) -> Result<Option<u64>, ApiError> {
        let v = self.call(
            "GET",
            &format!(
                "/api/{list}/?child={child}&start_min={}&start_max={}&limit={PAGE}",
                rfc3339(start - 1),
                rfc3339(start + 1)
            ),
            None,
        )?;
        let (_, results) = page(&v).ok_or_else(|| self.not_baby_buddy())?;
        Ok(results
            .iter()
            .filter_map(|r| r.get("id")?.as_u64())
            .find(|id| !taken.contains(id)))
    }

    /// Creates an item in `list`; returns its id.
    fn create(&self, list: &str, body: Value) -> Result<u64, ApiError> {
        let v = self.call("POST", &format!("/api/{list}/"), Some(body))?;
        v.get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| self.not_baby_buddy())
    }

    /// Changes item `id` of `list`.
    fn change(&self, list: &str, id: u64, body: Value) -> Result<(), ApiError> {
        self.call("PATCH", &format!("/api/{list}/{id}/"), Some(body))
            .map(drop)
    }

    /// Deletes item `id` of `list`; one already gone is fine.
    fn delete(&self, list: &str, id: u64) -> Result<(), ApiError> {
        match self.call("DELETE", &format!("/api/{list}/{id}/"), None) {
            Ok(_) | Err(ApiError::NotFound) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The child's timer that started at `start`, if there is one not in `taken` (the
    /// timers and feedings of letdown's other feeds).
    pub fn find_timer(
        &self,
        child: u64,
        start: i64,
        taken: &[u64],
    ) -> Result<Option<u64>, ApiError> {
        self.find_at("timers", child, start, taken)
    }

    /// Starts a timer for the child at `start`, as the family sees a running feed.
    pub fn start_timer(&self, child: u64, start: i64) -> Result<u64, ApiError> {
        let body = json!({"child": child, "name": "Feeding (letdown)", "start": rfc3339(start)});
        self.create("timers", body)
    }

    /// Moves a timer's start (a corrected feed).
    pub fn move_timer(&self, id: u64, start: i64) -> Result<(), ApiError> {
        self.change("timers", id, json!({"start": rfc3339(start)}))
    }

    /// Deletes a timer; one already gone is fine.
    pub fn delete_timer(&self, id: u64) -> Result<(), ApiError> {
        self.delete("timers", id)
    }

    /// The child's feeding that started at `start`, if there is one not in `taken`.
    pub fn find_feeding(
        &self,
        child: u64,
        start: i64,
        taken: &[u64],
    ) -> Result<Option<u64>, ApiError> {
        self.find_at("feedings", child, start, taken)
    }

    /// Creates a feeding; returns its id.
    pub fn post_feeding(&self, f: &NewFeeding) -> Result<u64, ApiError> {
        self.create("feedings", f.body())
    }

    /// Changes a feeding to match `f`.
    pub fn patch_feeding(&self, id: u64, f: &NewFeeding) -> Result<(), ApiError> {
        self.change("feedings", id, f.body())
    }

    /// Deletes a feeding; one already gone is fine.
    pub fn delete_feeding(&self, id: u64) -> Result<(), ApiError> {
        self.delete("feedings", id)
    }

    /// The child's feedings that ended at or after `end_min` (Unix seconds), every page.
    pub fn feedings(&self, child: u64, end_min: i64) -> Result<Vec<RemoteFeeding>, ApiError> {
        let items = all_pages(
            |offset| {
                self.call(
                    "GET",
                    &format!(
                        "/api/feedings/?child={child}&end_min={}&limit={PAGE}&offset={offset}",
                        rfc3339(end_min)
                    ),
                    None,
                )
            },
            &self.base,
        )?;
        items
            .iter()
            .map(feeding)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| self.not_baby_buddy())
    }

    /// The child's pumping entry that started at `start`, if there is one not in `taken`.
    pub fn find_pumping(
        &self,
        child: u64,
        start: i64,
        taken: &[u64],
    ) -> Result<Option<u64>, ApiError> {
        self.find_at("pumping", child, start, taken)
    }

    /// Changes a pumping entry to match `p`.
    pub fn patch_pumping(&self, id: u64, p: &NewPumping) -> Result<(), ApiError> {
        self.change("pumping", id, p.body())
    }

    /// Deletes a pumping entry; one already gone is fine.
    pub fn delete_pumping(&self, id: u64) -> Result<(), ApiError> {
        self.delete("pumping", id)
    }

    /// Creates a pumping entry; returns its id.
    pub fn post_pumping(&self, p: &NewPumping) -> Result<u64, ApiError> {
        self.create("pumping", p.body())
    }
}

/// A 400's reasons in one line: Django REST framework answers `{"field": ["why", ...]}`.
fn refusal(text: &str) -> String {
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        return "the request was refused".into();
    };
    let mut parts = Vec::new();
    if let Some(map) = v.as_object() {
        for (field, why) in map {
            let whys: Vec<String> = match why {
                Value::Array(a) => a.iter().map(plain).collect(),
                other => vec![plain(other)],
            };
            let whys = whys.join(" ");
            if field == "non_field_errors" || field == "detail" {
                parts.push(whys);
            } else {
                parts.push(format!("{field}: {whys}"));
            }
        }
    }
    if parts.is_empty() {
        "the request was refused".into()
    } else {
        parts.join("; ")
    }
}

/// A message without the HTML Baby Buddy puts in some (a link to the conflicting entry).
fn plain(v: &Value) -> String {
    let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_carry_offsets_and_are_kept_in_utc() {
        assert_eq!(unix("2026-12-02T10:00:00Z"), Some(1_796_205_600));
        assert_eq!(unix("2026-12-02T05:00:00-05:00"), Some(1_796_205_600));
        assert_eq!(
            unix("2026-12-02T11:00:00.123456+01:00"),
            Some(1_796_205_600)
        );
        assert_eq!(rfc3339(1_796_205_600), "2026-12-02T10:00:00Z");
        assert_eq!(unix("yesterday"), None);
    }

    #[test]
    fn every_page_is_read() {
        // 250 feedings, 100 a page, as Baby Buddy pages them.
        let all: Vec<Value> = (0..250)
            .map(|i| {
                json!({"id": i, "start": rfc3339(1000 * i), "end": rfc3339(1000 * i + 600),
                       "method": "left breast", "type": "breast milk"})
            })
            .collect();
        let mut asked = Vec::new();
        let items = all_pages(
            |offset| {
                asked.push(offset);
                let end = (offset + PAGE).min(all.len());
                Ok(json!({"count": all.len(), "results": all[offset..end]}))
            },
            "test",
        )
        .unwrap();
        assert_eq!(asked, vec![0, 100, 200]);
        assert_eq!(items.len(), 250);
        let f: Vec<RemoteFeeding> = items.iter().map(feeding).collect::<Option<_>>().unwrap();
        assert_eq!(f[249].id, 249);
        assert_eq!(f[249].start, 249_000);
        // A page that is not Baby Buddy's.
        let e = all_pages(|_| Ok(json!({"items": []})), "http://x").unwrap_err();
        assert_eq!(e, ApiError::NotBabyBuddy("http://x".into()));
    }

    #[test]
    fn a_refusal_is_said_in_one_plain_line() {
        let text = r#"{"non_field_errors":["Another entry intersects the specified time period. Conflicting entry: <a href=\"/feedings/3/\">Feeding (12/2/26 10:00 - 10:20)</a>"]}"#;
        assert_eq!(
            refusal(text),
            "Another entry intersects the specified time period. Conflicting entry: Feeding (12/2/26 10:00 - 10:20)"
        );
        assert_eq!(
            refusal(r#"{"end":["Start time must come before end time."]}"#),
            "end: Start time must come before end time."
        );
        assert!(!ApiError::Refused("x".into()).retryable());
        assert!(ApiError::Timeout.retryable());
        assert!(ApiError::Server(502).retryable());
    }

    #[test]
    fn bodies_are_what_baby_buddy_takes() {
        let f = NewFeeding {
            child: 1,
            start: 1_796_205_600,
            end: 1_796_206_800,
            method: "left breast",
            notes: String::new(),
        };
        assert_eq!(
            f.body(),
            json!({"child": 1, "start": "2026-12-02T10:00:00Z", "end": "2026-12-02T10:20:00Z",
                   "type": "breast milk", "method": "left breast"})
        );
        let p = NewPumping {
            child: 2,
            amount_ml: 90.0,
            start: 1_796_205_600,
            end: 1_796_206_500,
            notes: "evening".into(),
        };
        assert_eq!(
            p.body(),
            json!({"child": 2, "amount": 90.0, "start": "2026-12-02T10:00:00Z",
                   "end": "2026-12-02T10:15:00Z", "notes": "evening"})
        );
    }
}
