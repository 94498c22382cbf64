//! The seed document's Get example, in Rust: returns the API tokens of an
//! application.
//!
//! ```sh
//! LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_TOKEN=eyJ… APPLICATION_ID=575ec8687ae143cd83dc4a97 \
//!     cargo run -p latchkey-client --example get
//! ```

use latchkey_client::{Client, TokenListParams};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("LATCHKEY_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("LATCHKEY_TOKEN")?;
    let my_application_id = std::env::var("APPLICATION_ID")?;

    let client = Client::builder().base_url(url).token(token).build()?;
    let result = client
        .application_api_tokens()
        .get(&my_application_id, &TokenListParams::new())
        .await?;

    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
