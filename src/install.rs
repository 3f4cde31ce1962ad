//! Which installation of letdown is running: the Debian package (`/usr/bin`), the source install
//! (`scripts/install`, `~/.local/bin`), or a binary run from elsewhere (a build tree).
//!
//! Both installs can be on one machine at once, the user's own one winning (it is first on
//! `PATH`, and its systemd unit and D-Bus file in the home directory override the system's), so
//! `--version` says which one answered, to end any doubt about what runs.

use std::path::Path;

/// Where a running binary was installed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installation {
    /// A system package put it in `/usr/bin` (or `/usr/sbin`).
    Package,
    /// `scripts/install` put it in the user's `~/.local/bin`.
    Source,
    /// Run from somewhere else, e.g. `target/release` in a checkout.
    Elsewhere,
}

impl Installation {
    /// Classifies the binary at `exe` for a user whose home is `home`.
    pub fn of(exe: &Path, home: Option<&Path>) -> Self {
        if home.is_some_and(|h| exe.starts_with(h.join(".local/bin"))) {
            Self::Source
        } else if exe.starts_with("/usr/bin") || exe.starts_with("/usr/sbin") {
            Self::Package
        } else {
            Self::Elsewhere
        }
    }

    /// The running binary's installation.
    pub fn current() -> (Self, Option<std::path::PathBuf>) {
        let exe = std::env::current_exe().ok();
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let kind = exe
            .as_deref()
            .map(|e| Self::of(e, home.as_deref()))
            .unwrap_or(Self::Elsewhere);
        (kind, exe)
    }
}

/// The text `--version` prints after the program's name: the version, which installation runs
/// and where its binary is, e.g. `0.1.0 (Debian package, /usr/bin/letdown)`.
pub fn version_text() -> String {
    let (kind, exe) = Installation::current();
    let what = match kind {
        Installation::Package => "Debian package",
        Installation::Source => "installed from source",
        Installation::Elsewhere => "a build of your own",
    };
    let at = exe
        .map(|e| e.display().to_string())
        .unwrap_or_else(|| "unknown path".into());
    format!("{} ({what}, {at})", env!("CARGO_PKG_VERSION"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_installs_apart() {
        let home = Path::new("/home/ana");
        let of = |p: &str| Installation::of(Path::new(p), Some(home));
        assert_eq!(of("/usr/bin/letdown"), Installation::Package);
        assert_eq!(of("/home/ana/.local/bin/letdownd"), Installation::Source);
        assert_eq!(
            of("/home/ana/src/letdown/target/release/letdown"),
            Installation::Elsewhere
        );
        assert_eq!(of("/usr/local/bin/letdown"), Installation::Elsewhere);
        assert_eq!(
            Installation::of(Path::new("/usr/bin/letdown"), None),
            Installation::Package
        );
    }
}
