//! A typed client for the Application API Tokens resource of the Losant
//! Platform API, as served by Latchkey or by Losant itself.
//!
//! Resources are named like the official clients' (`application_api_tokens`,
//! `application_api_token`, `applications`, `application`):
//!
//! ```no_run
//! # async fn example() -> Result<(), latchkey_client::Error> {
//! use latchkey_client::{Client, TokenListParams, TokenSortField, SortDirection};
//!
//! let client = Client::builder().base_url("http://127.0.0.1:8080").token("eyJ…").build()?;
//! let params = TokenListParams::new().sort_field(TokenSortField::CreationDate).sort_direction(SortDirection::Desc);
//! let page = client.application_api_tokens().get("575ec8687ae143cd83dc4a97", &params).await?;
//! for token in page.items {
//!     println!("{} {}", token.id, token.name);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod audit;
mod client;
mod error;
mod models;
mod params;
mod resources;

pub use audit::{
    ApplicationAuditLogResource, ApplicationAuditLogsResource, AuditLog, AuditLogFilter, AuditLogListParams,
    AuditLogResource, AuditLogs, AuditLogsResource, AuditMatch, AuditSortField, RequestMatch,
};
pub use client::{Client, ClientBuilder, DEFAULT_ACCEPT_VERSION, DEFAULT_BASE_URL};
pub use error::{ApiErrorBody, Error};
pub use models::{
    ApiToken, ApiTokenPatch, ApiTokens, Application, ApplicationApiTokenPost, ApplicationPatch, ApplicationPost,
    Applications, CreatorType, Listing, OwnerType, Revoked, Success, TokenStatus,
};
pub use params::{
    ApplicationFilterField, ApplicationListParams, ApplicationSortField, ListParams, SortDirection, TokenFilterField,
    TokenListParams, TokenSortField,
};
pub use resources::{
    ApplicationApiTokenResource, ApplicationApiTokensResource, ApplicationResource, ApplicationsResource, Pager,
};
