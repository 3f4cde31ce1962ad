//! Keyboard shortcuts that run the `letdown` CLI, for each common desktop.
//!
//! The portal for global shortcuts does not work everywhere (not on sway), and refuses programs
//! without an app id; a desktop's own custom-command bindings always work. `letdown shortcuts`
//! prints them for the desktop in use, and installs them on GNOME through gsettings.

use std::process::Command;

/// One binding: (id, what it does, letdown arguments, key in GNOME notation).
pub const BINDINGS: &[(&str, &str, &str, &str)] = &[
    ("start", "Start the routine", "start", "<Super><Alt>Return"),
    ("toggle", "Pause or resume", "toggle", "<Super><Alt>space"),
    ("next", "Next step", "next", "<Super><Alt>Right"),
    ("previous", "Previous step", "previous", "<Super><Alt>Left"),
    ("repeat", "Say the step again", "repeat", "<Super><Alt>r"),
    ("where", "Where am I?", "where", "<Super><Alt>w"),
    ("stop", "Stop the session", "stop", "<Super><Alt>BackSpace"),
    (
        "fed-left",
        "Log a feed, left side",
        "fed --side left",
        "<Super><Alt>bracketleft",
    ),
    (
        "fed-right",
        "Log a feed, right side",
        "fed --side right",
        "<Super><Alt>bracketright",
    ),
    (
        "fed-both",
        "Log a feed, both sides",
        "fed --side both",
        "<Super><Alt>backslash",
    ),
    (
        "fed-end",
        "Feed done (end the running feed)",
        "fed --end",
        "<Super><Alt>period",
    ),
    (
        "pumped",
        "Pumping done (the same amount as last time)",
        "pumped --same",
        "<Super><Alt>p",
    ),
    (
        "snooze",
        "Snooze the next session 10 minutes",
        "snooze 10m",
        "<Super><Alt>z",
    ),
    ("skip", "Skip the next session", "skip", "<Super><Alt>s"),
];

const SCHEMA: &str = "org.gnome.settings-daemon.plugins.media-keys";
const KEY_SCHEMA: &str = "org.gnome.settings-daemon.plugins.media-keys.custom-keybinding";
const KEY_PATH: &str = "/org/gnome/settings-daemon/plugins/media-keys/custom-keybindings";

/// A GNOME accelerator in KDE's (Qt's) notation, as the desktop entry's `X-KDE-Shortcuts` and
/// KDE's settings write it: `<Super><Alt>space` is `Meta+Alt+Space`.
pub fn kde_key(accel: &str) -> String {
    let (mods, key) = parts(accel);
    let key = match key {
        "space" => "Space".to_string(),
        "BackSpace" => "Backspace".to_string(),
        "bracketleft" => "[".to_string(),
        "bracketright" => "]".to_string(),
        "backslash" => "\\".to_string(),
        "period" => ".".to_string(),
        k if k.len() == 1 => k.to_uppercase(),
        k => k.to_string(),
    };
    let mods: Vec<&str> = mods
        .iter()
        .map(|m| match *m {
            "Super" => "Meta",
            "Primary" | "Control" => "Ctrl",
            other => other,
        })
        .collect();
    format!("{}+{key}", mods.join("+"))
}

/// Splits a GNOME accelerator such as `<Super><Alt>space` into modifiers and key.
fn parts(accel: &str) -> (Vec<&str>, &str) {
    let mut mods = Vec::new();
    let mut rest = accel;
    while let Some(r) = rest.strip_prefix('<') {
        let (m, after) = r.split_once('>').expect("well-formed accelerator");
        mods.push(m);
        rest = after;
    }
    (mods, rest)
}

/// The bindings as text for `desktop`.
pub fn render(desktop: &str, letdown: &str) -> Result<String, String> {
    let mut out = String::new();
    match desktop {
        "gnome" => {
            out += "# GNOME: run `letdown shortcuts --install`, or set each of these in\n";
            out += "# Settings > Keyboard > Keyboard Shortcuts > Custom Shortcuts:\n";
            for (_, what, args, key) in BINDINGS {
                out += &format!("{key:<28} {letdown} {args:<16} # {what}\n");
            }
        }
        "sway" | "i3" => {
            out += &format!("# {desktop}: add to ~/.config/{desktop}/config, then reload\n");
            let locked = if desktop == "sway" { "--locked " } else { "" };
            for (_, what, args, key) in BINDINGS {
                let (mods, k) = parts(key);
                let mods: Vec<&str> = mods
                    .iter()
                    .map(|m| match *m {
                        "Super" => "Mod4",
                        "Alt" => "Mod1",
                        other => other,
                    })
                    .collect();
                out += &format!(
                    "bindsym {locked}{}+{k} exec {letdown} {args}  # {what}\n",
                    mods.join("+")
                );
            }
        }
        "hyprland" => {
            out += "# Hyprland: add to ~/.config/hypr/hyprland.conf\n";
            for (_, what, args, key) in BINDINGS {
                let (mods, k) = parts(key);
                out += &format!(
                    "bind = {}, {k}, exec, {letdown} {args}  # {what}\n",
                    mods.join(" ").to_uppercase()
                );
            }
        }
        "kde" => {
            out +=
                "# KDE Plasma offers these keys for letdown's desktop entry (System Settings >\n";
            out += "# Keyboard > Shortcuts > letdown) when it is installed; or Add New > Command\n";
            out += "# or Script, and give each command its key:\n";
            for (_, what, args, key) in BINDINGS {
                out += &format!("{:<22} {letdown} {args:<16} # {what}\n", kde_key(key));
            }
        }
        other => {
            return Err(format!(
                "unknown desktop \"{other}\"; use gnome, kde, sway, i3 or hyprland"
            ));
        }
    }
    Ok(out)
}

/// Guesses the desktop from `XDG_CURRENT_DESKTOP`.
pub fn detect() -> Option<String> {
    let d = std::env::var("XDG_CURRENT_DESKTOP").ok()?.to_lowercase();
    ["gnome", "kde", "sway", "i3", "hyprland"]
        .into_iter()
        .find(|name| d.contains(name))
        .map(str::to_string)
        .or_else(|| d.contains("unity").then(|| "gnome".to_string()))
}

fn gsettings(args: &[&str]) -> Result<String, String> {
    let out = Command::new("gsettings")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run gsettings: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "gsettings {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// GNOME's list of custom keybinding paths, as gsettings prints it (`@as []`, `['/a/', '/b/']`).
fn gnome_paths() -> Result<Vec<String>, String> {
    let current = gsettings(&["get", SCHEMA, "custom-keybindings"])?;
    Ok(parse_path_list(&current))
}

fn parse_path_list(text: &str) -> Vec<String> {
    text.trim_start_matches("@as")
        .trim()
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().trim_matches('\'').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn set_gnome_paths(paths: &[String]) -> Result<(), String> {
    let list = format!(
        "[{}]",
        paths
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    gsettings(&["set", SCHEMA, "custom-keybindings", &list])?;
    Ok(())
}

/// The keybinding path letdown uses for the binding `id`.
fn binding_path(id: &str) -> String {
    format!("{KEY_PATH}/letdown-{id}/")
}

/// Adds letdown's bindings to GNOME's custom keybindings (keeping the user's own).
fn install_gnome(letdown: &str) -> Result<(), String> {
    let mut paths = gnome_paths()?;
    for (id, what, args, key) in BINDINGS {
        let path = binding_path(id);
        let at = format!("{KEY_SCHEMA}:{path}");
        gsettings(&["set", &at, "name", &format!("letdown: {what}")])?;
        gsettings(&["set", &at, "command", &format!("{letdown} {args}")])?;
        gsettings(&["set", &at, "binding", key])?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    set_gnome_paths(&paths)
}

/// Removes letdown's bindings from GNOME (any left by an older version too), keeping the
/// user's own. Returns how many were removed.
fn remove_gnome() -> Result<usize, String> {
    let paths = gnome_paths()?;
    let prefix = format!("{KEY_PATH}/letdown-");
    let (ours, theirs): (Vec<String>, Vec<String>) =
        paths.into_iter().partition(|p| p.starts_with(&prefix));
    if ours.is_empty() {
        return Ok(0);
    }
    set_gnome_paths(&theirs)?;
    for path in &ours {
        let at = format!("{KEY_SCHEMA}:{path}");
        for key in ["name", "command", "binding"] {
            gsettings(&["reset", &at, key])?;
        }
    }
    Ok(ours.len())
}

/// `letdown shortcuts --remove`: takes letdown's GNOME bindings out again.
pub fn remove() -> anyhow::Result<()> {
    let n = remove_gnome().map_err(anyhow::Error::msg)?;
    println!("removed {n} GNOME shortcuts");
    Ok(())
}

/// `letdown shortcuts`: prints the bindings, or installs them on GNOME.
pub fn run(desktop: Option<String>, install: bool) -> anyhow::Result<()> {
    let letdown = std::env::current_exe()
        .ok()
        .and_then(|p| p.to_str().map(str::to_string))
        .unwrap_or_else(|| "letdown".into());
    let desktop = desktop.or_else(detect).unwrap_or_else(|| "gnome".into());
    if install {
        if desktop != "gnome" {
            anyhow::bail!(
                "--install knows GNOME only; for {desktop}, add the printed lines to its config:\n{}",
                render(&desktop, &letdown).map_err(anyhow::Error::msg)?
            );
        }
        install_gnome(&letdown).map_err(anyhow::Error::msg)?;
        println!("installed {} GNOME shortcuts:", BINDINGS.len());
    }
    print!(
        "{}",
        render(&desktop, &letdown).map_err(anyhow::Error::msg)?
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_desktop_gets_every_binding_in_its_own_syntax() {
        let sway = render("sway", "letdown").unwrap();
        assert!(
            sway.contains("bindsym --locked Mod4+Mod1+space exec letdown toggle"),
            "{sway}"
        );
        let i3 = render("i3", "letdown").unwrap();
        assert!(
            i3.contains("bindsym Mod4+Mod1+Right exec letdown next"),
            "{i3}"
        );
        let hypr = render("hyprland", "letdown").unwrap();
        assert!(
            hypr.contains("bind = SUPER ALT, space, exec, letdown toggle"),
            "{hypr}"
        );
        let kde = render("kde", "letdown").unwrap();
        assert!(kde.contains("Meta+Alt+R "), "{kde}");
        assert!(kde.contains("Meta+Alt+Space "), "{kde}");
        assert!(kde.contains("Meta+Alt+\\ "), "{kde}");
        assert!(
            sway.contains("bindsym --locked Mod4+Mod1+bracketleft exec letdown fed --side left"),
            "{sway}"
        );
        for text in [
            &sway,
            &i3,
            &hypr,
            &kde,
            &render("gnome", "letdown").unwrap(),
        ] {
            for (_, _, args, _) in BINDINGS {
                assert!(
                    text.contains(&format!("letdown {args}")),
                    "{args} missing in {text}"
                );
            }
        }
        assert!(render("windows", "letdown").is_err());
    }
}
