//! Request bodies: each must be a JSON object holding only the properties its
//! schema names, each of the right type and size. Every refusal says which
//! property and why, so a person can fix the request.

use serde_json::{Map, Value};

use crate::id::Id;
use crate::model::Status;
use crate::scope::catalog;
use crate::time::{parse_rfc3339, Millis};

pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 32767;

/// Longest value an error quotes back: room for every scope name (the
/// longest is 38 characters), too little for a JWT or most API keys.
pub const MAX_SHOWN_CHARS: usize = 40;

/// Whether a client's value may be repeated in an error or a log: a short
/// identifier (1 to [`MAX_SHOWN_CHARS`] ASCII letters, digits and `._-*:/@+`)
/// that does not start like a JWT. Anything else may be a credential pasted
/// into the wrong place.
pub fn is_showable(value: &str) -> bool {
    let identifier_like = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._-*:/@+".contains(c));
    // Every JWT starts with the base64url of `{"`.
    let jwt_like = value.starts_with("eyJ");
    identifier_like && !jwt_like && (1..=MAX_SHOWN_CHARS).contains(&value.len())
}

/// A client's value as an error message shows it: quoted when
/// [`is_showable`], else described by its length only, so it never comes
/// back in an error body or the logs that keep them.
pub fn shown(value: &str) -> String {
    if is_showable(value) {
        format!("\"{value}\"")
    } else {
        format!("(a value of {} characters, not shown)", value.chars().count())
    }
}

/// A refusal of something the client sent (`400 Validation`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    message: String,
}

impl Invalid {
    pub fn new(message: impl Into<String>) -> Invalid {
        Invalid {
            message: message.into(),
        }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

/// The body of `POST /applications/{id}/tokens`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPost {
    pub name: String,
    pub description: String,
    pub expiration_date: Option<Millis>,
    pub scope: Vec<String>,
    pub status: Status,
}

/// The body of `PATCH /applications/{id}/tokens/{tokenId}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub status: Option<Status>,
}

/// The body of `POST /applications`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationPost {
    pub name: String,
    pub description: String,
    pub org_id: Option<Id>,
}

/// The body of `PATCH /applications/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplicationPatch {
    pub name: Option<String>,
    pub description: Option<String>,
}

/// The properties of a JSON object body, consumed one by one so that
/// whatever is left over can be refused as unknown.
struct Body(Map<String, Value>);

impl Body {
    fn parse(bytes: &[u8]) -> Result<Body, Invalid> {
        let not_object = || Invalid::new("the request body must be a JSON object");
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Body(map)),
            Ok(_) => Err(not_object()),
            Err(error) if error.is_syntax() || error.is_eof() => Err(Invalid::new(format!(
                "the request body must be a JSON object; it is not valid JSON ({error})"
            ))),
            Err(_) => Err(not_object()),
        }
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.0.remove(key)
    }

    fn finish(self, allowed: &str) -> Result<(), Invalid> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(unknown) => Err(Invalid::new(format!(
                "{} is not a property this body accepts (it accepts {allowed})",
                shown(unknown)
            ))),
        }
    }

    fn string(&mut self, key: &str, min: usize, max: usize) -> Result<Option<String>, Invalid> {
        let Some(value) = self.take(key) else {
            return Ok(None);
        };
        let Value::String(text) = value else {
            return Err(Invalid::new(format!("{key} must be a string")));
        };
        let length = text.chars().count();
        if length < min || length > max {
            return Err(Invalid::new(if min > 0 {
                format!("{key} must be from {min} to {max} characters long")
            } else {
                format!("{key} must be at most {max} characters long")
            }));
        }
        if text.contains('\0') {
            return Err(Invalid::new(format!("{key} must not contain the NUL character")));
        }
        Ok(Some(text))
    }

    fn name(&mut self) -> Result<Option<String>, Invalid> {
        self.string("name", 1, MAX_NAME_CHARS)
    }

    fn description(&mut self) -> Result<Option<String>, Invalid> {
        self.string("description", 0, MAX_DESCRIPTION_CHARS)
    }

    fn status(&mut self) -> Result<Option<Status>, Invalid> {
        match self.take("status") {
            None => Ok(None),
            Some(Value::String(text)) if Status::parse(&text).is_some() => Ok(Status::parse(&text)),
            Some(_) => Err(Invalid::new("status must be one of: active, inactive")),
        }
    }
}

fn required_name(body: &mut Body) -> Result<String, Invalid> {
    body.name()?.ok_or_else(|| Invalid::new("name is required"))
}

impl TokenPost {
    pub fn parse(bytes: &[u8], now: Millis) -> Result<TokenPost, Invalid> {
        let mut body = Body::parse(bytes)?;
        let name = required_name(&mut body)?;
        let description = body.description()?.unwrap_or_default();
        let status = body.status()?.unwrap_or(Status::Active);
        let expiration_date = match body.take("expirationDate") {
            None => None,
            Some(value) => Some(parse_expiration(&value, now)?),
        };
        let scope = match body.take("scope") {
            None => vec!["all.Application".to_string()],
            Some(value) => parse_scope(value)?,
        };
        body.finish("name, description, expirationDate, scope, status")?;
        Ok(TokenPost {
            name,
            description,
            expiration_date,
            scope,
            status,
        })
    }
}

fn parse_expiration(value: &Value, now: Millis) -> Result<Millis, Invalid> {
    let at = value
        .as_str()
        .and_then(parse_rfc3339)
        .ok_or_else(|| Invalid::new("expirationDate must be an RFC 3339 date-time, e.g. 2030-01-01T00:00:00.000Z"))?;
    if at <= now {
        return Err(Invalid::new("expirationDate must be in the future"));
    }
    Ok(at)
}

fn parse_scope(value: Value) -> Result<Vec<String>, Invalid> {
    let Value::Array(items) = value else {
        return Err(Invalid::new("scope must be an array of scope names"));
    };
    if items.is_empty() {
        return Err(Invalid::new("scope must name at least one scope"));
    }
    let mut scope: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Value::String(name) = item else {
            return Err(Invalid::new("scope must be an array of scope names (strings)"));
        };
        if !catalog().is_application_scope(&name) {
            return Err(Invalid::new(format!(
                "scope {} is not a scope an application token may hold",
                shown(&name)
            )));
        }
        if scope.contains(&name) {
            return Err(Invalid::new(format!("scope {} is listed more than once", shown(&name))));
        }
        scope.push(name);
    }
    Ok(scope)
}

impl TokenPatch {
    pub fn parse(bytes: &[u8]) -> Result<TokenPatch, Invalid> {
        let mut body = Body::parse(bytes)?;
        let patch = TokenPatch {
            name: body.name()?,
            description: body.description()?,
            status: body.status()?,
        };
        body.finish("name, description, status")?;
        Ok(patch)
    }
}

impl ApplicationPost {
    pub fn parse(bytes: &[u8]) -> Result<ApplicationPost, Invalid> {
        let mut body = Body::parse(bytes)?;
        let name = required_name(&mut body)?;
        let description = body.description()?.unwrap_or_default();
        let org_id = match body.take("orgId") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(
                text.parse()
                    .map_err(|_| Invalid::new("orgId must be an id: 24 hexadecimal characters"))?,
            ),
            Some(_) => return Err(Invalid::new("orgId must be an id: 24 hexadecimal characters")),
        };
        body.finish("name, description, orgId")?;
        Ok(ApplicationPost {
            name,
            description,
            org_id,
        })
    }
}

impl ApplicationPatch {
    pub fn parse(bytes: &[u8]) -> Result<ApplicationPatch, Invalid> {
        let mut body = Body::parse(bytes)?;
        let patch = ApplicationPatch {
            name: body.name()?,
            description: body.description()?,
        };
        body.finish("name, description")?;
        Ok(patch)
    }
}

/// Parses an id from a path segment (`400` when malformed).
pub fn path_id(what: &str, text: &str) -> Result<Id, Invalid> {
    text.parse()
        .map_err(|_| Invalid::new(format!("{what} must be 24 hexadecimal characters")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_700_000_000_000;

    fn post(body: &str) -> Result<TokenPost, String> {
        TokenPost::parse(body.as_bytes(), NOW).map_err(|e| e.message().to_string())
    }

    #[test]
    fn defaults_of_a_post() {
        let token = post(r#"{"name":"x"}"#).unwrap();
        assert_eq!(token.scope, ["all.Application"]);
        assert_eq!(token.status, Status::Active);
        assert_eq!(token.expiration_date, None);
        assert_eq!(token.description, "");
    }

    #[test]
    fn a_full_post() {
        let token = post(
            r#"{"name":"é","description":"d","expirationDate":"2030-01-01T00:00:00Z","scope":["device.*","applicationApiTokens.get"],"status":"inactive"}"#,
        )
        .unwrap();
        assert_eq!(token.scope, ["device.*", "applicationApiTokens.get"]);
        assert_eq!(token.status, Status::Inactive);
        assert_eq!(token.expiration_date, Some(1_893_456_000_000));
    }

    #[test]
    fn names_are_counted_in_characters() {
        assert!(post(&format!(r#"{{"name":"{}"}}"#, "ü".repeat(255))).is_ok());
        assert!(post(&format!(r#"{{"name":"{}"}}"#, "ü".repeat(256)))
            .unwrap_err()
            .contains("1 to 255"));
        assert!(
            post(&format!(r#"{{"name":"x","description":"{}"}}"#, "d".repeat(32768)))
                .unwrap_err()
                .contains("at most 32767")
        );
    }

    #[test]
    fn refusals() {
        let cases = [
            ("", "not valid JSON"),
            ("name=x", "not valid JSON"),
            ("[]", "must be a JSON object"),
            ("\"x\"", "must be a JSON object"),
            ("{}", "name is required"),
            (r#"{"name":""}"#, "name must be from 1 to 255"),
            (r#"{"name":5}"#, "name must be a string"),
            (r#"{"name":"a\u0000b"}"#, "NUL"),
            (r#"{"name":"x","extra":1}"#, "\"extra\" is not a property"),
            (r#"{"name":"x","scope":[]}"#, "at least one"),
            (r#"{"name":"x","scope":"all.Application"}"#, "must be an array"),
            (r#"{"name":"x","scope":[1]}"#, "(strings)"),
            (r#"{"name":"x","scope":["all.User"]}"#, "\"all.User\" is not a scope"),
            (r#"{"name":"x","scope":["device.get","device.get"]}"#, "more than once"),
            (r#"{"name":"x","status":"on"}"#, "status must be one of"),
            (
                r#"{"name":"x","expirationDate":"2001-01-01T00:00:00Z"}"#,
                "in the future",
            ),
            (r#"{"name":"x","expirationDate":"soon"}"#, "RFC 3339"),
            (r#"{"name":"x","expirationDate":12}"#, "RFC 3339"),
        ];
        for (body, expected) in cases {
            let error = post(body).unwrap_err();
            assert!(error.contains(expected), "{body}: {error}");
        }
    }

    #[test]
    fn short_identifiers_are_quoted_and_nothing_else_is() {
        assert_eq!(shown("all.User"), "\"all.User\"");
        assert_eq!(
            shown("instanceSandbox.payloadCountsBreakdown"),
            "\"instanceSandbox.payloadCountsBreakdown\""
        );
        assert_eq!(shown(&"a".repeat(40)), format!("\"{}\"", "a".repeat(40)));
        assert_eq!(shown(&"a".repeat(41)), "(a value of 41 characters, not shown)");
        assert_eq!(
            shown("eyJhbGciOiJFZERTQSJ9.e30.c2ln"),
            "(a value of 29 characters, not shown)"
        );
        assert_eq!(shown(""), "(a value of 0 characters, not shown)");
        for odd in ["a b", "x\u{1b}[2J", "quote\"", "back\\slash", "é", "a\u{202e}b"] {
            assert!(shown(odd).ends_with("not shown)"), "{odd:?}");
        }
    }

    #[test]
    fn a_token_in_the_wrong_place_is_not_echoed() {
        let jwt = format!(
            "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.{}.{}",
            "p".repeat(120),
            "s".repeat(86)
        );
        let bodies = [
            format!(r#"{{"name":"x","scope":["{jwt}"]}}"#),
            format!(r#"{{"name":"x","{jwt}":1}}"#),
            format!(r#"{{"name":"x","scope":["{}"]}}"#, "k".repeat(41)),
        ];
        for body in bodies {
            let error = post(&body).unwrap_err();
            assert!(!error.contains("eyJ") && !error.contains("kkkk"), "{error}");
            assert!(error.contains("characters, not shown)"), "{error}");
        }
    }

    #[test]
    fn patch_accepts_only_its_three_fields() {
        let patch = TokenPatch::parse(br#"{"status":"inactive"}"#).unwrap();
        assert_eq!(patch.status, Some(Status::Inactive));
        for body in [
            r#"{"scope":["all.Application"]}"#,
            r#"{"expirationDate":"2030-01-01T00:00:00Z"}"#,
        ] {
            assert!(TokenPatch::parse(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn application_bodies() {
        let post = ApplicationPost::parse(br#"{"name":"app","orgId":"575EC8687AE143CD83DC4A97"}"#).unwrap();
        assert_eq!(post.org_id.unwrap().to_string(), "575ec8687ae143cd83dc4a97");
        assert!(ApplicationPost::parse(br#"{"name":"app","orgId":"nope"}"#).is_err());
        assert!(ApplicationPatch::parse(br#"{"ownerId":"575ec8687ae143cd83dc4a97"}"#).is_err());
    }
}
