//! `letdown voices`: the voices installed here, one tried through letdownd, or one chosen (in
//! config.toml, then letdownd prepares the routine with it).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use letdown::config::Config;
use letdown::paths::Paths;
use letdown::voice::catalog::{self, InstalledVoice};

use crate::cli::VoicesAction;

/// Runs `letdown voices [try|use NAME]`.
pub fn run(
    action: Option<VoicesAction>,
    all: bool,
    config: &Option<PathBuf>,
    paths: &Paths,
    timeout: Duration,
) -> anyhow::Result<()> {
    let path = config.clone().unwrap_or_else(|| paths.config_file());
    let cfg = crate::local::load_config(config, paths)?;
    match action {
        None => {
            let language = (!all).then_some(cfg.voice.language.as_str());
            list(&catalog::installed(&paths.data_dir, language), &cfg);
            Ok(())
        }
        Some(VoicesAction::Try { name }) => {
            let voices = catalog::installed(&paths.data_dir, None);
            let v = catalog::find(&voices, &name).map_err(anyhow::Error::msg)?;
            let said = crate::remote::on_daemon(timeout, |p| {
                let (engine, voice) = (v.engine.to_string(), v.name.clone());
                async move { p.try_voice(&engine, &voice).await }
            })?;
            println!("{}: \"{said}\"", v.full_name());
            Ok(())
        }
        Some(VoicesAction::Use { name }) => {
            let voices = catalog::installed(&paths.data_dir, None);
            let v = catalog::find(&voices, &name).map_err(anyhow::Error::msg)?;
            set_voice(&path, v)?;
            println!(
                "{} is letdown's voice now ({}).",
                v.full_name(),
                path.display()
            );
            match crate::remote::on_daemon(timeout, |p| async move { p.reload().await }) {
                Ok(_) => println!("letdownd is preparing your routine with it."),
                Err(e) => println!(
                    "letdownd did not take it yet ({e:#}); it will when it next starts or reloads."
                ),
            }
            Ok(())
        }
    }
}

/// Prints the voices, preferred first, the configured one marked.
fn list(voices: &[InstalledVoice], cfg: &Config) {
    if voices.is_empty() {
        println!(
            "No voice for \"{}\" is installed (`letdown voices --all` lists every language's). scripts/install-deps installs Festival and espeak-ng.",
            cfg.voice.language
        );
        return;
    }
    let width = |f: &dyn Fn(&InstalledVoice) -> usize, min: usize| {
        voices.iter().map(f).max().unwrap_or(0).max(min)
    };
    let name_w = width(&|v| v.full_name().len(), 5);
    let lang_w = width(&|v| v.language.len(), 8);
    let mut lines = vec![format!(
        "  {:name_w$}  {:9}  {:lang_w$}  GENDER",
        "VOICE", "ENGINE", "LANGUAGE"
    )];
    for v in voices {
        lines.push(format!(
            "{} {:name_w$}  {:9}  {:lang_w$}  {}",
            if v.is_configured(&cfg.voice) {
                "*"
            } else {
                " "
            },
            v.full_name(),
            v.engine.name(),
            v.language,
            v.gender.unwrap_or("-"),
        ));
    }
    if !cfg.voice.chosen {
        lines.push("(no voice is set in config.toml: the first one speaks)".into());
    }
    // A reader that stops early (`| head`) is no error.
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    for l in lines {
        if writeln!(out, "{l}").is_err() {
            break;
        }
    }
}

/// Sets `[voice] engine` and `voice` in the config file at `path`, keeping everything else
/// in it as it is (comments too).
fn set_voice(path: &Path, v: &InstalledVoice) -> anyhow::Result<()> {
    crate::config_edit::edit(path, |doc| {
        let voice = doc
            .entry("voice")
            .or_insert_with(toml_edit::table)
            .as_table_mut()
            .with_context(|| format!("{}: voice is not a table", path.display()))?;
        voice["engine"] = toml_edit::value(v.engine.name());
        voice["voice"] = toml_edit::value(v.name.as_str());
        Ok(())
    })
}
