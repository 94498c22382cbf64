//! The resources, named and shaped like the official clients'.

use std::marker::PhantomData;

use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::error::Error;
use crate::models::{
    ApiToken, ApiTokenPatch, ApiTokens, Application, ApplicationApiTokenPost, ApplicationPatch, ApplicationPost,
    Applications, Listing, Revoked, Success,
};
use crate::params::{ApplicationListParams, TokenListParams};

/// No request body.
pub(crate) const NONE: Option<&()> = None;

/// `/applications/{applicationId}/tokens`
#[derive(Debug, Clone, Copy)]
pub struct ApplicationApiTokensResource<'a> {
    client: &'a Client,
}

impl<'a> ApplicationApiTokensResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        ApplicationApiTokensResource { client }
    }

    /// Returns the API tokens for an application, one page.
    pub async fn get(&self, application_id: &str, params: &TokenListParams) -> Result<ApiTokens, Error> {
        let path = ["applications", application_id, "tokens"];
        self.client.send(Method::GET, &path, &params.to_query(), NONE).await
    }

    /// Creates a new API token for an application; the response holds the secret in `token`.
    pub async fn post(&self, application_id: &str, api_token: &ApplicationApiTokenPost) -> Result<ApiToken, Error> {
        let path = ["applications", application_id, "tokens"];
        self.client.send(Method::POST, &path, &[], Some(api_token)).await
    }

    /// Deactivates every token `params` would list (its order and page do
    /// not matter); `all` must be set when nothing in `params` narrows them.
    /// A Latchkey extension.
    pub async fn deactivate_matching(
        &self,
        application_id: &str,
        params: &TokenListParams,
        all: bool,
    ) -> Result<Revoked, Error> {
        let path = ["applications", application_id, "tokens"];
        let body = serde_json::json!({"status": "inactive"});
        self.client
            .send(Method::PATCH, &path, &bulk_query(params, all), Some(&body))
            .await
    }

    /// Deletes every token `params` would list, as [`Self::deactivate_matching`].
    pub async fn delete_matching(
        &self,
        application_id: &str,
        params: &TokenListParams,
        all: bool,
    ) -> Result<Revoked, Error> {
        let path = ["applications", application_id, "tokens"];
        self.client
            .send(Method::DELETE, &path, &bulk_query(params, all), NONE)
            .await
    }

    /// Walks every page of the listing from `params.page` (or 0) on.
    pub fn pager(&self, application_id: &str, params: &TokenListParams) -> Pager<'a, ApiTokens> {
        let segments = vec![
            "applications".to_string(),
            application_id.to_string(),
            "tokens".to_string(),
        ];
        Pager::new(self.client, segments, params.to_query(), params.page.unwrap_or(0))
    }
}

/// The query of a bulk change: the listing's, with `all=true` when asked.
fn bulk_query(params: &TokenListParams, all: bool) -> Vec<(&'static str, String)> {
    let mut query = params.to_query();
    if all {
        query.push(("all", "true".to_string()));
    }
    query
}

/// `/applications/{applicationId}/tokens/{apiTokenId}`
#[derive(Debug, Clone, Copy)]
pub struct ApplicationApiTokenResource<'a> {
    client: &'a Client,
}

impl<'a> ApplicationApiTokenResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        ApplicationApiTokenResource { client }
    }

    /// Returns one API token (never its secret).
    pub async fn get(&self, application_id: &str, api_token_id: &str) -> Result<ApiToken, Error> {
        let path = ["applications", application_id, "tokens", api_token_id];
        self.client.send(Method::GET, &path, &[], NONE).await
    }

    /// Changes a token's name, description or status.
    pub async fn patch(
        &self,
        application_id: &str,
        api_token_id: &str,
        patch: &ApiTokenPatch,
    ) -> Result<ApiToken, Error> {
        let path = ["applications", application_id, "tokens", api_token_id];
        self.client.send(Method::PATCH, &path, &[], Some(patch)).await
    }

    /// Deletes (revokes) a token.
    pub async fn delete(&self, application_id: &str, api_token_id: &str) -> Result<Success, Error> {
        let path = ["applications", application_id, "tokens", api_token_id];
        self.client.send(Method::DELETE, &path, &[], NONE).await
    }
}

/// `/applications`
#[derive(Debug, Clone, Copy)]
pub struct ApplicationsResource<'a> {
    client: &'a Client,
}

impl<'a> ApplicationsResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        ApplicationsResource { client }
    }

    /// Returns the applications the caller can reach, one page.
    pub async fn get(&self, params: &ApplicationListParams) -> Result<Applications, Error> {
        self.client
            .send(Method::GET, &["applications"], &params.to_query(), NONE)
            .await
    }

    /// Creates an application.
    pub async fn post(&self, application: &ApplicationPost) -> Result<Application, Error> {
        self.client
            .send(Method::POST, &["applications"], &[], Some(application))
            .await
    }

    /// Walks every page of the listing from `params.page` (or 0) on.
    pub fn pager(&self, params: &ApplicationListParams) -> Pager<'a, Applications> {
        Pager::new(
            self.client,
            vec!["applications".to_string()],
            params.to_query(),
            params.page.unwrap_or(0),
        )
    }
}

/// `/applications/{applicationId}`
#[derive(Debug, Clone, Copy)]
pub struct ApplicationResource<'a> {
    client: &'a Client,
}

impl<'a> ApplicationResource<'a> {
    pub(crate) fn new(client: &'a Client) -> Self {
        ApplicationResource { client }
    }

    /// Returns one application.
    pub async fn get(&self, application_id: &str) -> Result<Application, Error> {
        self.client
            .send(Method::GET, &["applications", application_id], &[], NONE)
            .await
    }

    /// Renames or re-describes an application.
    pub async fn patch(&self, application_id: &str, patch: &ApplicationPatch) -> Result<Application, Error> {
        self.client
            .send(Method::PATCH, &["applications", application_id], &[], Some(patch))
            .await
    }

    /// Deletes an application and all its tokens.
    pub async fn delete(&self, application_id: &str) -> Result<Success, Error> {
        self.client
            .send(Method::DELETE, &["applications", application_id], &[], NONE)
            .await
    }
}

/// Walks a listing page by page until every matching item was returned.
#[derive(Debug)]
pub struct Pager<'a, P> {
    client: &'a Client,
    segments: Vec<String>,
    query: Vec<(String, String)>,
    next: Option<u64>,
    _page: PhantomData<P>,
}

impl<'a, P: Listing + DeserializeOwned> Pager<'a, P> {
    pub(crate) fn new<K: Into<String>>(
        client: &'a Client,
        segments: Vec<String>,
        query: Vec<(K, String)>,
        first: u64,
    ) -> Self {
        let query = query
            .into_iter()
            .map(|(key, value)| (key.into(), value))
            .filter(|(key, _)| key != "page")
            .collect();
        Pager {
            client,
            segments,
            query,
            next: Some(first),
            _page: PhantomData,
        }
    }

    /// The next page, or `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<P>, Error> {
        let Some(number) = self.next else {
            return Ok(None);
        };
        let mut query: Vec<(&str, String)> = self
            .query
            .iter()
            .map(|(key, value)| (key.as_str(), value.clone()))
            .collect();
        query.push(("page", number.to_string()));
        let segments: Vec<&str> = self.segments.iter().map(String::as_str).collect();
        let page: P = self.client.send(Method::GET, &segments, &query, NONE).await?;
        let seen = (number + 1).saturating_mul(page.per_page());
        self.next = (page.count() > 0 && seen < page.total_count()).then_some(number + 1);
        Ok(Some(page))
    }

    /// Every remaining page merged into the first: its `items` hold them all
    /// and `count` says how many. `progress(fetched, total)` runs after each page.
    pub async fn combined(mut self, mut progress: impl FnMut(u64, u64)) -> Result<Option<P>, Error> {
        let Some(mut combined) = self.next_page().await? else {
            return Ok(None);
        };
        progress(combined.count(), combined.total_count());
        while let Some(page) = self.next_page().await? {
            combined.absorb(page);
            progress(combined.count(), combined.total_count());
        }
        Ok(Some(combined))
    }

    /// Every remaining item, in order.
    pub async fn all(mut self) -> Result<Vec<P::Item>, Error> {
        let mut items = Vec::new();
        while let Some(page) = self.next_page().await? {
            items.extend(page.into_items());
        }
        Ok(items)
    }
}
