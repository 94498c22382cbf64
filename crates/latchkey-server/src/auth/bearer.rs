//! Reading the token out of `Authorization: Bearer <token>`.

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use latchkey_core::token::bearer_token;

use super::AuthFailure;

/// The single token of exactly one `Authorization: Bearer <token>` header,
/// scheme in any case, words separated by any ASCII whitespace.
pub fn bearer(headers: &HeaderMap) -> Result<&str, AuthFailure> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(AuthFailure::MissingHeader),
        (Some(value), None) => value,
        (Some(_), Some(_)) => return Err(AuthFailure::MalformedHeader),
    };
    let value = value.to_str().map_err(|_| AuthFailure::MalformedHeader)?;
    bearer_token(value).ok_or(AuthFailure::MalformedHeader)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use proptest::prelude::*;

    use super::*;

    /// The rule spelled out byte by byte, for the parser to agree with.
    fn reference(values: &[Vec<u8>]) -> Result<String, AuthFailure> {
        let value = match values {
            [] => return Err(AuthFailure::MissingHeader),
            [value] => value,
            _ => return Err(AuthFailure::MalformedHeader),
        };
        // Readable text: visible ASCII, spaces and tabs.
        if !value.iter().all(|&byte| byte == b'\t' || (b' '..=b'~').contains(&byte)) {
            return Err(AuthFailure::MalformedHeader);
        }
        let mut words = Vec::new();
        let mut word = String::new();
        for &byte in value {
            if byte.is_ascii_whitespace() {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            } else {
                word.push(char::from(byte));
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
        match words.as_slice() {
            [scheme, token] if scheme.to_lowercase() == "bearer" => Ok(token.clone()),
            _ => Err(AuthFailure::MalformedHeader),
        }
    }

    fn headers(values: &[Vec<u8>]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_bytes(value).expect("a header value"));
        }
        headers
    }

    /// Header values near the valid form: scheme spellings, whitespace,
    /// token-like text, and any other byte.
    fn value() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"Bearer".to_vec()),
            Just(b"bEaReR".to_vec()),
            Just(b"Basic".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            "[A-Za-z0-9._-]{1,12}".prop_map(String::into_bytes),
            any::<u8>().prop_map(|byte| vec![byte]),
        ];
        prop::collection::vec(piece, 0..6).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn agrees_with_the_reference_and_never_panics(values in prop::collection::vec(value(), 0..3)) {
            // What HTTP cannot carry (CR, LF, NUL) never reaches the parser.
            let values: Vec<Vec<u8>> = values
                .into_iter()
                .filter(|value| HeaderValue::from_bytes(value).is_ok())
                .collect();
            let parsed = bearer(&headers(&values)).map(str::to_string);
            prop_assert_eq!(parsed, reference(&values));
        }
    }

    #[test]
    fn examples() {
        let parse = |values: &[&str]| {
            let values: Vec<Vec<u8>> = values.iter().map(|value| value.as_bytes().to_vec()).collect();
            bearer(&headers(&values)).map(str::to_string)
        };
        assert_eq!(parse(&["Bearer abc"]), Ok("abc".to_string()));
        assert_eq!(parse(&["  bearer\tabc "]), Ok("abc".to_string()));
        assert_eq!(parse(&[]), Err(AuthFailure::MissingHeader));
        assert_eq!(parse(&["Bearer"]), Err(AuthFailure::MalformedHeader));
        assert_eq!(parse(&["Bearer a b"]), Err(AuthFailure::MalformedHeader));
        assert_eq!(parse(&["Basic abc"]), Err(AuthFailure::MalformedHeader));
        assert_eq!(parse(&["Bearer abc", "Bearer abc"]), Err(AuthFailure::MalformedHeader));
    }
}
