//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! Each [`AppState`](crate::AppState) owns its registry, so nothing is
//! process-wide and two apps in one process (tests) count apart. Histograms
//! keep fixed buckets of atomics: memory does not grow with traffic, whether
//! or not anyone scrapes.
//!
//! Per-request cost: series with fixed labels (authentication failures, the
//! cache) are resolved once, at start; a request's own series are found by
//! hashing labels borrowed for the request's lifetime (the route template
//! axum matched, a static method name, the status code's text), so no label
//! string is allocated per request. Labels stay few: the route is the
//! template (`/applications/{applicationId}/tokens`), never the raw path,
//! and methods outside the standard ones count as `other`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use pin_project_lite::pin_project;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};
use tower::{Layer, Service};

use crate::auth::AuthFailure;

/// The route label of requests no route matched (404s of unknown paths).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Request latency buckets, in seconds: 50 µs (a cached authentication on an
/// idle machine) to 5 s (past the point where anything is healthy).
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_duration: HistogramVec,
    requests_in_flight: IntGauge,
    /// One counter per [`AuthFailure`], in the order of [`AuthFailure::ALL`].
    auth_failures: Vec<IntCounter>,
    pub auth_cache_hits: IntCounter,
    pub auth_cache_misses: IntCounter,
    pub auth_changes: IntCounter,
    pub tokens_created: IntCounter,
    pub rate_limited: IntCounter,
    pub audit_refusals_dropped: IntCounter,
    pub key_ring_reads: IntCounter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "latchkey_http_requests_total",
                "HTTP requests answered, by route template, method and status",
            ),
            &["route", "method", "status"],
        )
        .expect("a valid metric");
        let request_duration = HistogramVec::new(
            HistogramOpts::new(
                "latchkey_http_request_duration_seconds",
                "Time from a request's arrival to its response's head, by route template and method",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route", "method"],
        )
        .expect("a valid metric");
        let requests_in_flight =
            IntGauge::new("latchkey_http_requests_in_flight", "Requests being handled now").expect("a valid metric");
        let auth_failures_by_reason = IntCounterVec::new(
            Opts::new("latchkey_auth_failures_total", "Requests refused 401, by reason"),
            &["reason"],
        )
        .expect("a valid metric");
        // Every reason exists from the start, at 0, so rates are defined before the first failure.
        let auth_failures = AuthFailure::ALL
            .iter()
            .map(|failure| auth_failures_by_reason.with_label_values(&[failure.label()]))
            .collect();
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect("a valid metric");
        let metrics = Metrics {
            requests,
            request_duration,
            requests_in_flight,
            auth_failures,
            auth_cache_hits: counter(
                "latchkey_auth_cache_hits_total",
                "Token lookups answered from the authentication cache",
            ),
            auth_cache_misses: counter(
                "latchkey_auth_cache_misses_total",
                "Token lookups that read the database (missing or stale in the cache)",
            ),
            auth_changes: counter(
                "latchkey_auth_changes_total",
                "Entries read from the authentication change log (changes by any instance), each evicted",
            ),
            tokens_created: counter(
                "latchkey_tokens_created_total",
                "API tokens created over HTTP by this instance",
            ),
            rate_limited: counter(
                "latchkey_rate_limited_total",
                "Requests refused 429 by the per-token rate limit",
            ),
            key_ring_reads: counter(
                "latchkey_key_ring_reads_total",
                "Reads of the signing keys: every 500 ms, and for tokens of unknown keys at most once a second",
            ),
            audit_refusals_dropped: counter(
                "latchkey_audit_refusals_dropped_total",
                "Refusals (403, 404) not written to the audit log because its queue was full",
            ),
            registry,
        };
        let collectors: [Box<dyn prometheus::core::Collector>; 11] = [
            Box::new(metrics.requests.clone()),
            Box::new(metrics.request_duration.clone()),
            Box::new(metrics.requests_in_flight.clone()),
            Box::new(auth_failures_by_reason),
            Box::new(metrics.auth_cache_hits.clone()),
            Box::new(metrics.auth_cache_misses.clone()),
            Box::new(metrics.auth_changes.clone()),
            Box::new(metrics.tokens_created.clone()),
            Box::new(metrics.rate_limited.clone()),
            Box::new(metrics.audit_refusals_dropped.clone()),
            Box::new(metrics.key_ring_reads.clone()),
        ];
        for collector in collectors {
            metrics.registry.register(collector).expect("metric names are unique");
        }
        metrics
    }

    pub fn auth_failure(&self, failure: AuthFailure) {
        let index = AuthFailure::ALL
            .iter()
            .position(|known| *known == failure)
            .expect("ALL lists every failure");
        self.auth_failures[index].inc();
    }

    /// Everything, in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut text = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut text)
            .expect("encoding to memory cannot fail");
        String::from_utf8(text).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

/// The `Content-Type` of [`Metrics::render`]'s text.
pub const CONTENT_TYPE: &str = prometheus::TEXT_FORMAT;

/// The method as a label: one of a fixed few, so a client inventing methods
/// cannot add series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::PUT => "PUT",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts and times every request. Must be added with `Router::layer`, so
/// that it runs after routing and sees the [`MatchedPath`].
#[derive(Clone)]
pub struct RecordLayer {
    metrics: Arc<Metrics>,
}

impl RecordLayer {
    pub fn new(metrics: Arc<Metrics>) -> RecordLayer {
        RecordLayer { metrics }
    }
}

impl<S> Layer<S> for RecordLayer {
    type Service = Record<S>;

    fn layer(&self, inner: S) -> Record<S> {
        Record {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

#[derive(Clone)]
pub struct Record<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for Record<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = RecordFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> RecordFuture<S::Future> {
        let observation = Observation::start(Arc::clone(&self.metrics), &request);
        RecordFuture {
            inner: self.inner.call(request),
            observation: Some(observation),
        }
    }
}

/// One request being handled: in the in-flight gauge until dropped (also
/// when the client hangs up and the request is abandoned).
struct Observation {
    metrics: Arc<Metrics>,
    /// The matched route template; `None` when no route matched.
    route: Option<MatchedPath>,
    method: &'static str,
    started: Instant,
}

impl Observation {
    fn start(metrics: Arc<Metrics>, request: &Request) -> Observation {
        metrics.requests_in_flight.inc();
        Observation {
            route: request.extensions().get::<MatchedPath>().cloned(),
            method: method_label(request.method()),
            started: Instant::now(),
            metrics,
        }
    }

    fn finish(self, status: StatusCode) {
        let route = self.route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
        self.metrics
            .request_duration
            .with_label_values(&[route, self.method])
            .observe(self.started.elapsed().as_secs_f64());
        self.metrics
            .requests
            .with_label_values(&[route, self.method, status.as_str()])
            .inc();
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        self.metrics.requests_in_flight.dec();
    }
}

pin_project! {
    pub struct RecordFuture<F> {
        #[pin]
        inner: F,
        observation: Option<Observation>,
    }
}

impl<F, E> Future for RecordFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        if let (Ok(response), Some(observation)) = (&result, this.observation.take()) {
            observation.finish(response.status());
        }
        Poll::Ready(result)
    }
}
