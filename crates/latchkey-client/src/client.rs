use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::audit::{ApplicationAuditLogResource, ApplicationAuditLogsResource, AuditLogResource, AuditLogsResource};
use crate::error::{ApiErrorBody, Error};
use crate::resources::{
    ApplicationApiTokenResource, ApplicationApiTokensResource, ApplicationResource, ApplicationsResource,
};

/// Losant's API, the default base URL (as in the official clients).
pub const DEFAULT_BASE_URL: &str = "https://api.losant.com";
/// The API version the official clients ask for.
pub const DEFAULT_ACCEPT_VERSION: &str = "^1.31.0";

/// A client for one base URL and token. Cheap to clone; clones share connections.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: Url,
    token: Option<String>,
    losant_domain: Option<String>,
    accept_version: String,
}

impl std::fmt::Debug for Client {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("losant_domain", &self.losant_domain)
            .finish()
    }
}

/// Configures a [`Client`].
#[derive(Default)]
pub struct ClientBuilder {
    base_url: Option<String>,
    token: Option<String>,
    losant_domain: Option<String>,
    accept_version: Option<String>,
    http: Option<reqwest::Client>,
}

impl std::fmt::Debug for ClientBuilder {
    /// Never prints the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("base_url", &self.base_url)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("losant_domain", &self.losant_domain)
            .finish()
    }
}

impl ClientBuilder {
    /// Where the API is, e.g. `http://127.0.0.1:8080`; default [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API token sent as `Authorization: Bearer …`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// The `losantdomain` header (domain scope; rarely needed).
    pub fn losant_domain(mut self, domain: impl Into<String>) -> Self {
        self.losant_domain = Some(domain.into());
        self
    }

    /// The `Accept-Version` header; default [`DEFAULT_ACCEPT_VERSION`].
    pub fn accept_version(mut self, version: impl Into<String>) -> Self {
        self.accept_version = Some(version.into());
        self
    }

    /// Use this HTTP client (for timeouts, proxies, …).
    pub fn http_client(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }

    /// The client, or [`Error::Config`] when the base URL is not a URL.
    pub fn build(self) -> Result<Client, Error> {
        let text = self.base_url.unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        // The value is not quoted: it may be a token given in the wrong place,
        // or a URL holding a password.
        let base_url =
            Url::parse(&text).map_err(|error| Error::Config(format!("the base URL is not a URL: {error}")))?;
        if base_url.cannot_be_a_base() {
            return Err(Error::Config(
                "the base URL cannot hold a path; use http://HOST:PORT or https://HOST".to_string(),
            ));
        }
        Ok(Client {
            http: self.http.unwrap_or_default(),
            base_url,
            token: self.token,
            losant_domain: self.losant_domain,
            accept_version: self
                .accept_version
                .unwrap_or_else(|| DEFAULT_ACCEPT_VERSION.to_string()),
        })
    }
}

impl Client {
    /// A client for Losant's API with this token.
    pub fn new(token: impl Into<String>) -> Client {
        Client::builder()
            .token(token)
            .build()
            .expect("the default base URL is valid")
    }

    /// A builder, to set the base URL and more.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.base_url.as_str()
    }

    /// An application's API tokens: `get` (list) and `post` (create).
    pub fn application_api_tokens(&self) -> ApplicationApiTokensResource<'_> {
        ApplicationApiTokensResource::new(self)
    }

    /// One API token: `get`, `patch`, `delete`.
    pub fn application_api_token(&self) -> ApplicationApiTokenResource<'_> {
        ApplicationApiTokenResource::new(self)
    }

    /// Applications: `get` (list) and `post` (create).
    pub fn applications(&self) -> ApplicationsResource<'_> {
        ApplicationsResource::new(self)
    }

    /// One application: `get`, `patch`, `delete`.
    pub fn application(&self) -> ApplicationResource<'_> {
        ApplicationResource::new(self)
    }

    /// An organization's audit log: `get` (list).
    pub fn audit_logs(&self) -> AuditLogsResource<'_> {
        AuditLogsResource::new(self)
    }

    /// One entry of an organization's audit log: `get`.
    pub fn audit_log(&self) -> AuditLogResource<'_> {
        AuditLogResource::new(self)
    }

    /// The audit log entries about one application: `get` (list).
    pub fn application_audit_logs(&self) -> ApplicationAuditLogsResource<'_> {
        ApplicationAuditLogsResource::new(self)
    }

    /// One audit log entry about an application: `get`.
    pub fn application_audit_log(&self) -> ApplicationAuditLogResource<'_> {
        ApplicationAuditLogResource::new(self)
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .expect("checked in build: the base URL can hold a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    fn headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let value = |name: &str, text: &str| {
            HeaderValue::from_str(text).map_err(|_| Error::Config(format!("the {name} is not a valid header value")))
        };
        headers.insert("accept-version", value("Accept-Version", &self.accept_version)?);
        if let Some(token) = &self.token {
            let mut bearer = value("token", &format!("Bearer {token}"))?;
            bearer.set_sensitive(true);
            headers.insert(AUTHORIZATION, bearer);
        }
        if let Some(domain) = &self.losant_domain {
            headers.insert("losantdomain", value("losantdomain", domain)?);
        }
        Ok(headers)
    }

    /// Sends one request and decodes the answer, or the server's error.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, Error> {
        let mut request = self.http.request(method, self.url(segments)).headers(self.headers()?);
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        if status >= 400 {
            let body = serde_json::from_slice::<ApiErrorBody>(&bytes).unwrap_or_else(|_| ApiErrorBody {
                kind: String::new(),
                message: String::from_utf8_lossy(&bytes).into_owned(),
            });
            return Err(Error::Api { status, body });
        }
        serde_json::from_slice(&bytes).map_err(|source| Error::Decode { status, source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_base_path_and_escape_segments() {
        let client = Client::builder()
            .base_url("http://localhost:8080/api/")
            .build()
            .unwrap();
        assert_eq!(
            client.url(&["applications", "a/b c"]).as_str(),
            "http://localhost:8080/api/applications/a%2Fb%20c"
        );
        let client = Client::builder().base_url("http://localhost:8080").build().unwrap();
        assert_eq!(
            client.url(&["applications"]).as_str(),
            "http://localhost:8080/applications"
        );
    }

    #[test]
    fn bad_base_urls_are_config_errors_that_do_not_quote_them() {
        for url in ["eyJhbGciOiJFZERTQSJ9.e30.c2VjcmV0", "mailto:user:hunter2@host"] {
            let error = Client::builder().base_url(url).build().unwrap_err();
            assert!(matches!(error, Error::Config(_)), "{error}");
            assert!(
                !error.to_string().contains("c2VjcmV0") && !error.to_string().contains("hunter2"),
                "{error}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let client = Client::new("secret-token-value");
        assert_eq!(client.base_url(), "https://api.losant.com/");
        assert!(!format!("{client:?}").contains("secret-token-value"));
        let builder = Client::builder().token("secret-token-value");
        assert!(!format!("{builder:?}").contains("secret-token-value"));
    }
}
