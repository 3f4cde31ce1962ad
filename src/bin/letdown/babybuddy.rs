//! `letdown babybuddy`: connecting to a Baby Buddy server (checked here, before anything is
//! written), disconnecting, the sync's status, and syncing now (letdownd does the syncing).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use letdown::babybuddy::api::{ApiError, ChildInfo, Client};
use letdown::babybuddy::{check_url, read_token};
use letdown::paths::Paths;

use crate::cli::BabyBuddyAction;

/// The least time `sync` waits: the server may take up to 10 s per request.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// Runs a `babybuddy` command.
pub fn run(
    action: BabyBuddyAction,
    config: &Option<PathBuf>,
    paths: &Paths,
    timeout: Duration,
) -> anyhow::Result<()> {
    let path = config.clone().unwrap_or_else(|| paths.config_file());
    match action {
        BabyBuddyAction::Connect {
            url,
            token_file,
            child,
            allow_insecure_http,
        } => connect(
            &path,
            &url,
            &token_file,
            child.as_deref(),
            allow_insecure_http,
            timeout,
        ),
        BabyBuddyAction::Disconnect => {
            crate::config_edit::edit(&path, |doc| {
                doc.remove("babybuddy");
                Ok(())
            })?;
            println!("disconnected: feeds no longer sync with Baby Buddy (the token file is kept)");
            reload(timeout);
            Ok(())
        }
        BabyBuddyAction::Status => status(timeout),
        BabyBuddyAction::Sync => {
            let wait = timeout.max(SYNC_TIMEOUT);
            crate::remote::on_daemon(wait, |p| async move { p.sync_baby_buddy().await })?;
            status(timeout)
        }
    }
}

fn connect(
    config: &Path,
    url: &str,
    token_file: &Path,
    child: Option<&str>,
    allow_insecure_http: bool,
    timeout: Duration,
) -> anyhow::Result<()> {
    let url = check_url(url, allow_insecure_http).map_err(anyhow::Error::msg)?;
    let token_file = std::path::absolute(token_file)
        .with_context(|| format!("cannot find {}", token_file.display()))?;
    let token = read_token(&token_file).map_err(anyhow::Error::msg)?;
    let client = Client::new(&url, token);
    let children = client.children().map_err(|e| explain(&url, e))?;
    let chosen = choose(&children, child)?;
    crate::config_edit::edit(config, |doc| {
        let mut t = toml_edit::Table::new();
        t.decor_mut().set_prefix(
            "\n# Feeds sync with this Baby Buddy server (letdown babybuddy connect wrote this;\n# the token stays in token_file).\n",
        );
        t["url"] = toml_edit::value(url.as_str());
        t["token_file"] = toml_edit::value(token_file.display().to_string());
        t["child"] = toml_edit::value(chosen.id as i64);
        if allow_insecure_http {
            t["allow_insecure_http"] = toml_edit::value(true);
        }
        // Settings the user had (sync_every, max_feed) stay.
        if let Some(old) = doc.get("babybuddy").and_then(|v| v.as_table()) {
            for key in ["sync_every", "max_feed"] {
                if let Some(v) = old.get(key) {
                    t[key] = v.clone();
                }
            }
        }
        doc["babybuddy"] = toml_edit::Item::Table(t);
        Ok(())
    })?;
    println!(
        "connected to {url}: feeds of {} (id {}) sync with it; written to {}",
        if chosen.name.is_empty() {
            &chosen.slug
        } else {
            &chosen.name
        },
        chosen.id,
        config.display()
    );
    reload(timeout);
    Ok(())
}

/// The child to sync: the one named, or the only one.
fn choose<'c>(children: &'c [ChildInfo], wanted: Option<&str>) -> anyhow::Result<&'c ChildInfo> {
    let list = || {
        children
            .iter()
            .map(|c| format!("{} (id {}, {})", c.slug, c.id, c.name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(w) => children
            .iter()
            .find(|c| c.slug == w || c.id.to_string() == w)
            .with_context(|| format!("the server has no child \"{w}\"; it has: {}", list())),
        None => match children {
            [] => bail!("the server has no child yet; add one in Baby Buddy first"),
            [one] => Ok(one),
            _ => bail!(
                "the server has several children: {}; choose one with --child SLUG",
                list()
            ),
        },
    }
}

/// A failed check, with what to do about it.
fn explain(url: &str, e: ApiError) -> anyhow::Error {
    let hint = match &e {
        ApiError::Unreachable(_) => "is the server running, and is the address right?",
        ApiError::Timeout => "is the server overloaded, or the address wrong?",
        ApiError::NotBabyBuddy(_) | ApiError::NotFound => {
            "give the address of Baby Buddy itself, the one its login page is at"
        }
        ApiError::Certificate(_) => {
            "the server's certificate must be signed by an authority this system trusts"
        }
        _ => "",
    };
    let e = match e {
        ApiError::NotFound => ApiError::NotBabyBuddy(url.to_string()),
        e => e,
    };
    if hint.is_empty() {
        anyhow::anyhow!("{e}")
    } else {
        anyhow::anyhow!("{e}: {hint}")
    }
}

/// Tells letdownd to read the new settings (it starts if it is not running).
fn reload(timeout: Duration) {
    match crate::remote::on_daemon(timeout, |p| async move { p.reload().await }) {
        Ok(problems) => {
            for p in problems {
                println!("{p}");
            }
        }
        Err(e) => eprintln!(
            "letdown: letdownd did not reload ({e}); it reads the settings when it starts"
        ),
    }
}

fn status(timeout: Duration) -> anyhow::Result<()> {
    let m = crate::remote::on_daemon(timeout, |p| async move { p.summary().await })?;
    let Some(server) = m.get("sync_server") else {
        println!(
            "not connected; `letdown babybuddy connect URL --token-file PATH` connects a Baby Buddy server"
        );
        return Ok(());
    };
    let now = jiff::Timestamp::now().as_second();
    let num = |k: &str| m.get(k).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    // "Wed 14:05 (3m ago)"
    let when = |t: i64| {
        format!(
            "{} ({} ago)",
            crate::remote::local_time(t),
            letdown::duration::show(Duration::from_secs((now - t).max(0) as u64))
        )
    };
    println!("server:     {server}");
    println!("child:      {}", m.get("sync_child").map_or("", |s| s));
    let last = num("sync_last");
    if last > 0 {
        println!("last sync:  {}", when(last));
    } else {
        println!("last sync:  never");
    }
    println!(
        "waiting:    {} feed(s) to send{}",
        num("sync_outbox"),
        match num("sync_stuck") {
            0 => String::new(),
            n => format!(", {n} refused by the server (changing the feed sends it again)"),
        }
    );
    if let Some(e) = m.get("sync_error") {
        println!("last error: {e}");
    }
    let failing = num("sync_failing_since");
    if failing > 0 {
        println!(
            "no answer since {}; what waits is sent when it answers",
            when(failing)
        );
    }
    Ok(())
}
