//! `latchkey`: the token service and its administrator's commands.

mod admin;
mod backup;
mod copy;
mod database;
mod expiry;
mod keys;
mod master_key;
mod progress;
mod remote;
mod serve;
mod tls;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A self-hosted API token service that speaks Losant's Application API Tokens API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve(serve::ServeArgs),
    /// Mint a user token directly in the database and print it.
    AdminToken(admin::AdminTokenArgs),
    /// Manage users, organizations and test data in the database.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Work with an application's API tokens over HTTP.
    Tokens(remote::TokensCommand),
    /// Work with applications over HTTP.
    Apps(remote::AppsCommand),
    /// Read an organization's or an application's audit log over HTTP.
    Audit(remote::AuditCommand),
    /// Print a shell completion script.
    Completions {
        /// The shell to print the script for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Lets a command whose output is piped into `head` end quietly, as Unix
/// tools do, instead of failing on the closed pipe. Not for `serve`: a
/// server must survive clients that hang up.
fn die_quietly_on_closed_pipe() {
    // SAFETY: restoring the default disposition of one signal, before any
    // other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.command,
        Command::Tokens(_) | Command::Apps(_) | Command::Audit(_) | Command::Completions { .. }
    ) {
        die_quietly_on_closed_pipe();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::AdminToken(args) => admin::admin_token(args).await,
            Command::Admin(command) => admin::run(command).await,
            Command::Tokens(command) => command.run().await,
            Command::Apps(command) => command.run().await,
            Command::Audit(command) => command.run().await,
            Command::Completions { shell } => {
                clap_complete::generate(shell, &mut Cli::command(), "latchkey", &mut std::io::stdout());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The message may quote a server's words: print them inert.
            eprintln!("error: {}", remote::printable(&format!("{error:#}")));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command below the top, as its words (`["admin", "user", "create"]`),
    /// with globals propagated, as `--help` shows it; clap's own `help` excluded.
    fn every_subcommand() -> Vec<(Vec<String>, clap::Command)> {
        fn walk(path: &[String], command: &clap::Command, found: &mut Vec<(Vec<String>, clap::Command)>) {
            for sub in command.get_subcommands().filter(|sub| sub.get_name() != "help") {
                let mut words = path.to_vec();
                words.push(sub.get_name().to_string());
                walk(&words, sub, found);
                found.push((words, sub.clone()));
            }
        }
        let mut cli = Cli::command();
        cli.build();
        let mut found = Vec::new();
        walk(&[], &cli, &mut found);
        found
    }

    #[test]
    fn every_command_and_option_has_a_one_line_help() {
        let mut missing = Vec::new();
        for (words, command) in every_subcommand() {
            let words = words.join(" ");
            if command
                .get_about()
                .is_none_or(|about| about.to_string().trim().is_empty())
            {
                missing.push(format!("latchkey {words}"));
            }
            for arg in command.get_arguments() {
                if matches!(arg.get_id().as_str(), "help" | "version") {
                    continue;
                }
                let help = arg.get_help().map(|help| help.to_string()).unwrap_or_default();
                if help.trim().is_empty() || help.contains('\n') {
                    missing.push(format!("latchkey {words} {}", arg.get_id()));
                }
            }
        }
        assert!(missing.is_empty(), "no one-line help: {missing:#?}");
    }

    /// The variables each command reads, by its path.
    fn variables_read_by(words: &[&str]) -> &'static [&'static str] {
        match words {
            ["serve", ..] => &[
                "LATCHKEY_DATABASE",
                "LATCHKEY_LISTEN",
                "LATCHKEY_LOG",
                "LATCHKEY_LOG_FORMAT",
                "LATCHKEY_TLS_CERT",
                "LATCHKEY_TLS_KEY",
                "LATCHKEY_MASTER_KEY_FILE",
            ],
            ["admin-token"] | ["admin", "keys", "list" | "rotate" | "encrypt"] | ["admin", "seed"] => {
                &["LATCHKEY_DATABASE", "LATCHKEY_MASTER_KEY_FILE"]
            }
            // Writes a new file; opens no database.
            ["admin", "keys", "master-key", ..] => &[],
            // Its two databases are given as flags.
            ["admin", "copy"] => &[],
            ["admin", ..] => &["LATCHKEY_DATABASE"],
            ["tokens" | "apps" | "audit", ..] => &["LATCHKEY_URL", "LATCHKEY_TOKEN"],
            _ => &[],
        }
    }

    #[test]
    fn every_environment_variable_is_in_the_help_of_the_commands_that_read_it() {
        let mut missing = Vec::new();
        for (words, mut command) in every_subcommand() {
            // A command with subcommands reads nothing itself.
            if command.has_subcommands() {
                continue;
            }
            let help = command.render_help().to_string();
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            for variable in variables_read_by(&words) {
                // `[env: NAME=value]`, or `[env: NAME]` when the value is secret.
                let shown = [format!("[env: {variable}="), format!("[env: {variable}]")];
                if !shown.iter().any(|shown| help.contains(shown)) {
                    missing.push(format!("latchkey {} --help lacks {variable}", words.join(" ")));
                }
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }

    #[test]
    fn database_options_are_listed_apart() {
        let mut serve = Cli::command().find_subcommand("serve").unwrap().clone();
        let help = serve.render_help().to_string();
        let heading = help.find("Database options:").expect("a Database options heading");
        assert!(help.find("--database").unwrap() > heading, "{help}");
        // Own options declared after the database's stay under their own heading.
        for own in ["--listen", "--log <FILTER>"] {
            assert!(help.find(own).unwrap() < heading, "{own}: {help}");
        }
    }
}
