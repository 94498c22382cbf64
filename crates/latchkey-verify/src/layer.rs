//! The tower layer that admits only verified requests, and the axum
//! extractor that hands their token to handlers.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::future::Either;
use latchkey_core::scope::Action;
use serde_json::json;
use tower::{Layer, Service};

use crate::{Verified, Verifier};

/// Admits a request only with a token the [`Verifier`] accepts (and, with
/// [`VerifyLayer::require`], whose scope grants an action); refuses others
/// with Latchkey's JSON errors (`401`, `403`, `503`: see [`crate::Refusal`]).
/// Handlers behind it take [`Verified`].
#[derive(Clone, Debug)]
pub struct VerifyLayer {
    verifier: Verifier,
    required: Option<Arc<Action>>,
}

impl VerifyLayer {
    pub(crate) fn new(verifier: Verifier) -> VerifyLayer {
        VerifyLayer {
            verifier,
            required: None,
        }
    }

    /// Also requires the token's scope to grant `action`, e.g.
    /// `"device.sendState"` (`403` otherwise).
    ///
    /// # Panics
    /// When `action` is not `resource.action`: a mistake in the program.
    pub fn require(self, action: &str) -> VerifyLayer {
        let action = Action::parse(action).unwrap_or_else(|| panic!("{action:?} is not resource.action"));
        VerifyLayer {
            required: Some(Arc::new(action)),
            ..self
        }
    }
}

impl<S> Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> VerifyService<S> {
        VerifyService {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// The future of a request that waits before it is decided.
pub type WaitingFuture<E> = Pin<Box<dyn Future<Output = Result<Response, E>> + Send>>;

/// The service [`VerifyLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct VerifyService<S> {
    inner: S,
    /// Behind one `Arc`: each request clones it once.
    layer: Arc<VerifyLayer>,
}

impl<S, B> Service<Request<B>> for VerifyService<S>
where
    S: Service<Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    /// The inner service's future, or a refusal, with nothing to allocate:
    /// only a request that must wait (a key to fetch, Latchkey to ask)
    /// takes a boxed future.
    type Future = Either<Either<S::Future, Ready<Result<Response, S::Error>>>, WaitingFuture<S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let required = self.layer.required.as_deref();
        match self.layer.verifier.admit_now(request.headers(), required) {
            Some(Ok(verified)) => {
                request.extensions_mut().insert(verified);
                return Either::Left(Either::Left(self.inner.call(request)));
            }
            Some(Err(refusal)) => return Either::Left(Either::Right(ready(Ok(refusal.into_response())))),
            None => {}
        }
        // The clone that was polled ready serves this request.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = Arc::clone(&self.layer);
        Either::Right(Box::pin(async move {
            let required = layer.required.as_deref();
            match layer.verifier.admit(request.headers(), required).await {
                Ok(verified) => {
                    request.extensions_mut().insert(verified);
                    inner.call(request).await
                }
                Err(refusal) => Ok(refusal.into_response()),
            }
        }))
    }
}

/// The answer to a handler that takes [`Verified`] on a route without the
/// [`VerifyLayer`]: a mistake in the program, so a `500`.
#[derive(Debug, Clone, Copy)]
pub struct MissingLayer;

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        let body = json!({"type": "InternalError", "message": "this route is not behind latchkey-verify's layer"});
        (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Verified {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Verified, MissingLayer> {
        parts.extensions.get::<Verified>().cloned().ok_or(MissingLayer)
    }
}

/// `Option<Verified>`: `None` on a route without the layer, so one handler
/// serves both kinds of route.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Verified {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Verified>, Self::Rejection> {
        Ok(parts.extensions.get::<Verified>().cloned())
    }
}
