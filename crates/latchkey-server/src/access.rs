//! Reach and scope (spec sections 3 and 4): `404` for an application the
//! caller cannot reach, `403` for an action its scopes do not grant.

use latchkey_core::model::Application;
use latchkey_core::scope::{any_grants, Action, TargetOwner};
use latchkey_core::validate::path_id;
use latchkey_core::Id;

use crate::auth::{Caller, Reach};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

impl Caller {
    fn reaches(&self, app: &Application) -> bool {
        match &self.reach {
            Reach::Application { id, .. } => *id == app.id,
            Reach::User { user, organizations } => app.owner_id == *user || organizations.contains(&app.owner_id),
        }
    }

    /// Who owns `application` if the caller reaches it, without a database
    /// read for an application token on its own application.
    pub async fn reach(&self, state: &AppState, application: Id) -> ApiResult<TargetOwner> {
        match &self.reach {
            Reach::Application { id, owner } if *id == application => Ok(*owner),
            Reach::Application { .. } => Err(ApiError::application_not_found()),
            Reach::User { .. } => Ok(self.reach_loaded(state, application).await?.owner_type.as_target()),
        }
    }

    /// The application record, if the caller reaches it.
    pub async fn reach_loaded(&self, state: &AppState, application: Id) -> ApiResult<Application> {
        match state.store.application(application).await? {
            Some(app) if self.reaches(&app) => Ok(app),
            _ => Err(ApiError::application_not_found()),
        }
    }

    /// `403` unless a scope grants `action` on an application owned by `owner`.
    pub fn require(&self, action: &Action, owner: TargetOwner) -> ApiResult<()> {
        if any_grants(&self.token.scope, action, owner) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("the token's scopes do not grant {action}")))
        }
    }

    /// The application, checked in the spec's order: the id's shape (400),
    /// reach (404), scope (403).
    pub async fn authorize_loaded(
        &self,
        state: &AppState,
        application: &str,
        action: &Action,
    ) -> ApiResult<Application> {
        let id = path_id("applicationId", application)?;
        let app = self.reach_loaded(state, id).await?;
        self.require(action, app.owner_type.as_target())?;
        Ok(app)
    }

    /// Checks in the spec's order: the id's shape (400), reach (404), scope (403).
    pub async fn authorize(
        &self,
        state: &AppState,
        application: &str,
        action: &Action,
    ) -> ApiResult<(Id, TargetOwner)> {
        let id = path_id("applicationId", application)?;
        let owner = self.reach(state, id).await?;
        self.require(action, owner)?;
        Ok((id, owner))
    }
}
