//! A service that accepts Latchkey's tokens with no call to Latchkey per
//! request:
//!
//! ```text
//! LATCHKEY_TOKEN=<a token holding applicationApiTokens.get> \
//! cargo run --release -p latchkey-verify --example protected -- \
//!     --latchkey-url http://127.0.0.1:8080 --application <ID> --listen 127.0.0.1:3000
//! ```
//!
//! `GET /hello` answers `{"tokenId": …}` for a token of that application
//! holding `device.get`, 401/403 otherwise (503 while Latchkey is out of
//! reach); `GET /open` is the same handler without the layer; `/metrics` is
//! the verifier's, for Prometheus.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use latchkey_verify::{Id, Verified, Verifier};
use serde_json::{json, Value};
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
struct Args {
    /// Latchkey's base URL.
    #[arg(long)]
    latchkey_url: String,
    /// The application whose tokens are accepted.
    #[arg(long)]
    application: Id,
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: String,
    /// The reader token: an application token holding applicationApiTokens.get.
    #[arg(long, env = "LATCHKEY_TOKEN", hide_env_values = true)]
    token: String,
}

async fn hello(verified: Option<Verified>) -> Json<Value> {
    Json(json!({ "tokenId": verified.map(|verified| verified.token_id()) }))
}

async fn metrics(State(verifier): State<Verifier>) -> String {
    verifier.metrics().prometheus()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    let verifier = Verifier::builder(args.latchkey_url, args.token)
        .application(args.application)
        .start()?;
    let app = Router::new()
        .route("/hello", get(hello))
        .layer(verifier.layer().require("device.get"))
        .route("/open", get(hello))
        .route("/metrics", get(metrics))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    eprintln!("protected: listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
