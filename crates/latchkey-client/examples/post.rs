//! The seed document's Post example, in Rust: creates an API token for an
//! application and prints it, secret included (shown this once only).
//!
//! ```sh
//! LATCHKEY_URL=http://127.0.0.1:8080 LATCHKEY_TOKEN=eyJ… APPLICATION_ID=575ec8687ae143cd83dc4a97 \
//!     cargo run -p latchkey-client --example post
//! ```

use latchkey_client::{ApplicationApiTokenPost, Client};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("LATCHKEY_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("LATCHKEY_TOKEN")?;
    let my_application_id = std::env::var("APPLICATION_ID")?;

    let client = Client::builder().base_url(url).token(token).build()?;
    let my_api_token = ApplicationApiTokenPost {
        name: "My API Token".into(),
        scope: Some(vec!["all.Application.read".into()]),
        ..Default::default()
    };
    let result = client
        .application_api_tokens()
        .post(&my_application_id, &my_api_token)
        .await?;

    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(())
}
