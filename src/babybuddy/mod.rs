//! Baby Buddy, the self-hosted baby tracker many parents already log feeds in: letdown's
//! settings for it (`[babybuddy]` in config.toml), the token file, and its REST API
//! ([`api`]). What syncs and when is the daemon's ([`crate::daemon`]) and the schedule's
//! ([`crate::schedule::sync`]) business; docs/BABYBUDDY.md tells the user.
//!
//! The token lives only in its own file (mode 0600): never in config.toml, a process's
//! arguments, a log line, a D-Bus reply or an error message. [`Token`] prints as `Token(…)`.

pub mod api;

use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The keys of `[babybuddy]` in config.toml.
pub const KEYS: &[&str] = &[
    "url",
    "token_file",
    "child",
    "allow_insecure_http",
    "sync_every",
    "max_feed",
];

/// How often feedings are read while nothing else asks, unless the config says.
pub const DEFAULT_SYNC_EVERY: Duration = Duration::from_secs(300);
/// How long a feed started with a key may run before it is ended at this limit, unless the
/// config says.
pub const DEFAULT_MAX_FEED: Duration = Duration::from_secs(3600);
/// A key press that depends on the feed log reads feedings again when the last read is older.
pub const FRESH_FOR: Duration = Duration::from_secs(30);
/// The longest any one request may take (connect, send and answer together).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Which child's feeds sync: Baby Buddy's id, or its slug until the id is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    /// The child's id.
    Id(u64),
    /// The child's slug (`jane-doe`).
    Slug(String),
}

impl std::fmt::Display for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Child::Id(id) => write!(f, "{id}"),
            Child::Slug(s) => f.write_str(s),
        }
    }
}

/// `[babybuddy]` in config.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The server, e.g. `https://baby.example.org` (no trailing slash).
    pub url: String,
    /// The file holding the API token (mode 0600).
    pub token_file: PathBuf,
    /// Whose feeds.
    pub child: Child,
    /// Accept `http://` to a host that is not this machine.
    pub allow_insecure_http: bool,
    /// How often feedings are read.
    pub sync_every: Duration,
    /// A started feed is ended at this limit.
    pub max_feed: Duration,
}

/// The API token, read from its file; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

impl Token {
    /// The header value, for the client only.
    pub(crate) fn header(&self) -> String {
        format!("Token {}", self.0)
    }

    /// A token from its text (tests, and the client's own checks).
    pub fn new(text: &str) -> Token {
        Token(text.trim().to_string())
    }
}

/// Checks a server address: `https://`, or `http://` to this machine only (a token sent over
/// plain HTTP across a network can be read by anyone on it) unless `allow_insecure_http`.
/// Returns the address without a trailing slash.
pub fn check_url(url: &str, allow_insecure_http: bool) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("\"{url}\" is not a web address; give it as https://HOST"))?;
    let host_port = rest.split('/').next().unwrap_or("");
    let host = match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.rsplit_once(':').map_or(host_port, |(h, _)| h),
    };
    if host.is_empty() {
        return Err(format!("\"{url}\" names no host"));
    }
    match scheme {
        "https" => Ok(url.to_string()),
        "http" if allow_insecure_http || is_loopback(host) => Ok(url.to_string()),
        "http" => Err(format!(
            "\"{url}\" is plain http to another machine: the token would cross the network unencrypted; use https://, or set allow_insecure_http = true under [babybuddy] if this network is yours alone"
        )),
        other => Err(format!(
            "\"{other}://\" is not a web address scheme; use https://"
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Reads the token file, refusing one that others can read (with the `chmod` to run).
/// Errors name the file, never its content.
pub fn read_token(path: &Path) -> Result<Token, String> {
    let meta = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("the token file {} is not a file", path.display()));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "the token file {} can be read by other users (mode {mode:03o}); run: chmod 600 {}",
            path.display(),
            path.display()
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the token file {}: {e}", path.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!(
            "the token file {} is empty; put the API key from Baby Buddy's user settings in it",
            path.display()
        ));
    }
    if token.len() > 256 || token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "the token file {} does not hold one API key (one line, no spaces)",
            path.display()
        ));
    }
    Ok(Token(token.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_this_machine_only() {
        assert_eq!(
            check_url("http://127.0.0.1:8000/", false).unwrap(),
            "http://127.0.0.1:8000"
        );
        assert!(check_url("http://localhost:8000", false).is_ok());
        assert!(check_url("http://[::1]:8000", false).is_ok());
        assert!(check_url("https://baby.example.org", false).is_ok());
        let e = check_url("http://192.168.1.5:8000", false).unwrap_err();
        assert!(e.contains("allow_insecure_http"), "{e}");
        assert!(check_url("http://192.168.1.5:8000", true).is_ok());
        assert!(check_url("ftp://x", false).is_err());
        assert!(check_url("baby.example.org", false).is_err());
        assert!(check_url("http://", false).is_err());
    }

    #[test]
    fn a_token_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "s3cr3t-token-value\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read_token(&p).unwrap_err();
        assert!(e.contains(&format!("chmod 600 {}", p.display())), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = read_token(&p).unwrap();
        assert_eq!(t.header(), "Token s3cr3t-token-value");
        assert_eq!(format!("{t:?}"), "Token(…)");
        std::fs::write(&p, "two words\n").unwrap();
        assert!(!read_token(&p).unwrap_err().contains("two"));
    }
}
