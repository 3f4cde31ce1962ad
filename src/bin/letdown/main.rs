//! `letdown`: the command-line tool. Remote control of letdownd (`remote`), and the commands
//! that work on routines here (`local`).

mod babybuddy;
mod cli;
mod config_edit;
mod local;
mod record;
mod remote;
mod voices;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use cli::{Cli, Command};
use letdown::paths::Paths;

fn main() -> ExitCode {
    let matches = Cli::command()
        .version(letdown::install::version_text())
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let paths = Paths::from_env();
    let result = match cli.command {
        Command::Remote(c) => remote::run(c, cli.timeout, cli.quiet).map(|()| ExitCode::SUCCESS),
        Command::Local(c) => local::run(c, &cli.config, &paths, cli.timeout),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("letdown: {e:#}");
            ExitCode::FAILURE
        }
    }
}
