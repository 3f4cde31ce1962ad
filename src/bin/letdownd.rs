//! letdownd: the letdown daemon. Serves `org.letdown.Coach` on the session bus and guides
//! sessions out loud. Usually started by systemd (`systemctl --user start letdownd`) or by D-Bus
//! activation on the first `letdown` command.

use std::process::ExitCode;

use clap::FromArgMatches;

use letdown::daemon::args::Args;

fn init_logging() {
    use std::io::Write;
    let journal = std::env::var_os("JOURNAL_STREAM").is_some();
    env_logger::Builder::from_env(
        env_logger::Env::new().filter_or("LETDOWN_LOG", "info,pulseaudio=off"),
    )
    .format(move |buf, record| {
        if journal {
            // systemd reads the "<N>" prefix as the syslog priority.
            let prio = match record.level() {
                log::Level::Error => 3,
                log::Level::Warn => 4,
                log::Level::Info => 6,
                _ => 7,
            };
            writeln!(buf, "<{prio}>{}", record.args())
        } else {
            writeln!(
                buf,
                "{} letdownd {}: {}",
                buf.timestamp_millis(),
                record.level(),
                record.args()
            )
        }
    })
    .init();
}

fn main() -> ExitCode {
    letdown::daemon::memory::one_pool();
    let args = Args::command_with_version().get_matches();
    let args = Args::from_arg_matches(&args).unwrap_or_else(|e| e.exit());
    init_logging();
    let output = match letdown::output::from_spec(&args.output) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("letdownd: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(letdown::daemon::run(
        letdown::paths::Paths::from_env(),
        output,
    ));
    // A synthesis still running beside the coach is not waited for: its process dies with
    // letdownd (see voice::run), and the cache keeps only finished files.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
