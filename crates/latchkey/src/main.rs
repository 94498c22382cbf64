//! `latchkey`: the token service and its administrator's commands.

mod admin;
mod database;
mod progress;
mod remote;
mod serve;

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
    /// Print a shell completion script.
    Completions {
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
        Command::Tokens(_) | Command::Apps(_) | Command::Completions { .. }
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
