//! Request ids: every request gets one (the client's `x-request-id` when it
//! sent a usable one, else a fresh random one), every response carries it
//! back, and the request's tracing span records it, so all log lines of one
//! request can be found together.

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use latchkey_core::validate::is_showable;
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Span;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent id kept; a longer one is replaced, so a client cannot
/// make every log line of its request arbitrarily long.
const MAX_CLIENT_ID_LEN: usize = 128;

/// 128 random bits as 32 lowercase hex digits: unique across instances
/// without coordination, and revealing nothing (unlike a counter) about how
/// many requests an instance has served.
#[derive(Clone, Copy, Default)]
pub struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let mut text = [0u8; 32];
        hex::encode_to_slice(rand::random::<[u8; 16]>(), &mut text).expect("16 bytes are 32 hex digits");
        Some(RequestId::new(
            HeaderValue::from_bytes(&text).expect("hex digits are a valid header value"),
        ))
    }
}

/// Whether a client's id is kept: 1 to 128 printable ASCII characters, no spaces.
fn usable(id: &HeaderValue) -> bool {
    (1..=MAX_CLIENT_ID_LEN).contains(&id.len()) && id.as_bytes().iter().all(u8::is_ascii_graphic)
}

/// Removes a client's `x-request-id` that is not [`usable`] (or sent more
/// than once), so that a fresh one is made in its place.
pub fn drop_unusable_client_id(mut request: Request) -> Request {
    let mut ids = request.headers().get_all(&X_REQUEST_ID).iter();
    let keep = match (ids.next(), ids.next()) {
        (None, _) => true,
        (Some(id), None) => usable(id),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        request.headers_mut().remove(&X_REQUEST_ID);
    }
    request
}

/// The path as logged: a segment that is not [`is_showable`] (a token pasted
/// as an id, say) is replaced by its length. The common path, every segment
/// showable, is logged as it is, without a copy.
fn logged_path(path: &str) -> Cow<'_, str> {
    let shown = |segment: &str| segment.is_empty() || is_showable(segment);
    if path.split('/').all(shown) {
        return Cow::Borrowed(path);
    }
    let segments: Vec<String> = path
        .split('/')
        .map(|segment| match shown(segment) {
            true => segment.to_string(),
            false => format!("({} bytes)", segment.len()),
        })
        .collect();
    Cow::Owned(segments.join("/"))
}

/// The span every log line of a request is in. Info level, so that warnings
/// and errors carry the request id at the default log level. The path is
/// logged without its query string, and without any segment that may be a
/// credential.
pub fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id = id,
        method = %request.method(),
        path = %logged_path(request.uri().path()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_ids(ids: &[&[u8]]) -> Request {
        let mut request = Request::new(axum::body::Body::empty());
        for id in ids {
            request
                .headers_mut()
                .append(X_REQUEST_ID, HeaderValue::from_bytes(id).unwrap());
        }
        request
    }

    fn kept_id(ids: &[&[u8]]) -> Option<Vec<u8>> {
        let request = drop_unusable_client_id(request_with_ids(ids));
        request.headers().get(&X_REQUEST_ID).map(|id| id.as_bytes().to_vec())
    }

    #[test]
    fn a_usable_client_id_is_kept() {
        assert_eq!(kept_id(&[b"abc-123_x.y:z"]), Some(b"abc-123_x.y:z".to_vec()));
        let longest = vec![b'a'; MAX_CLIENT_ID_LEN];
        assert_eq!(kept_id(&[&longest]), Some(longest.clone()));
    }

    #[test]
    fn an_unusable_client_id_is_dropped() {
        assert_eq!(kept_id(&[b""]), None);
        assert_eq!(kept_id(&[&[b'a'; MAX_CLIENT_ID_LEN + 1]]), None);
        assert_eq!(kept_id(&[b"with space"]), None);
        assert_eq!(kept_id(&[b"caf\xc3\xa9"]), None);
        assert_eq!(kept_id(&[b"one", b"two"]), None);
    }

    #[test]
    fn fresh_ids_are_32_hex_digits_and_differ() {
        let request = request_with_ids(&[]);
        let mut make = RandomRequestId;
        let first = make.make_request_id(&request).unwrap();
        let second = make.make_request_id(&request).unwrap();
        for id in [&first, &second] {
            let text = id.header_value().to_str().unwrap();
            assert_eq!(text.len(), 32, "{text}");
            assert!(text
                .bytes()
                .all(|byte| byte.is_ascii_hexdigit() && !byte.is_ascii_uppercase()));
        }
        assert_ne!(first.header_value(), second.header_value());
    }
}
