//! Audit log entries (`schemas/auditLog.json`): who changed, or tried to
//! change, which application or token, when, how, and what they were told.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::id::Id;
use crate::time::{to_wire, Millis};

/// What an entry is about: Losant's `primaryTargetType` (`Application`) or
/// `secondaryTargetType` (`ApiToken`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetType {
    Application,
    ApiToken,
}

impl TargetType {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetType::Application => "Application",
            TargetType::ApiToken => "ApiToken",
        }
    }
}

/// Who acted: Losant's `actorType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorType {
    User,
    ApiToken,
}

impl ActorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorType::User => "User",
            ActorType::ApiToken => "ApiToken",
        }
    }

    pub fn parse(text: &str) -> Option<ActorType> {
        match text {
            "User" => Some(ActorType::User),
            "ApiToken" => Some(ActorType::ApiToken),
            _ => None,
        }
    }
}

/// An id with its type and its name at the time of the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named<T> {
    pub kind: T,
    pub id: Id,
    pub name: String,
}

/// The operator's own commands (`latchkey admin …`) act on the database
/// directly, as no user or token: their entries name this actor, without id
/// or type.
pub const OPERATOR: &str = "latchkey admin";

/// One audit log entry. Request and response bodies are kept as JSON with
/// every secret already [`redact`]ed.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Id,
    pub creation_date: Millis,
    /// The organization owning the application (or the organization created).
    pub org_id: Option<Id>,
    /// The application (`primaryTarget…`).
    pub application: Option<Named<TargetType>>,
    /// The API token (`secondaryTarget…`).
    pub token: Option<Named<TargetType>>,
    /// Who acted; `None` for the operator's commands ([`OPERATOR`]).
    pub actor: Option<Named<ActorType>>,
    /// Losant's resource and action names: `applicationApiTokens`/`post`, …
    pub request_resource: String,
    pub request_action: String,
    pub request_path_params: Map<String, Value>,
    pub request_query_params: Map<String, Value>,
    pub request_body: Value,
    pub response_status: u16,
    pub response_body: Value,
    /// The caller's address as the server saw it (no proxy header is trusted).
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AuditEntry {
    /// An entry about a request made at `now`: who, and Losant's names for
    /// what; the caller fills in the rest it knows, the outcome last.
    pub fn draft(now: Millis, actor: Option<Named<ActorType>>, resource: &str, action: &str) -> AuditEntry {
        AuditEntry {
            id: Id::generate(now / 1000),
            creation_date: now,
            org_id: None,
            application: None,
            token: None,
            actor,
            request_resource: resource.to_string(),
            request_action: action.to_string(),
            request_path_params: Map::new(),
            request_query_params: Map::new(),
            request_body: Value::Object(Map::new()),
            response_status: 0,
            response_body: Value::Null,
            source_ip: None,
            user_agent: None,
        }
    }

    /// The actor's name, also for the operator's commands.
    pub fn actor_name(&self) -> &str {
        self.actor.as_ref().map_or(OPERATOR, |actor| actor.name.as_str())
    }
}

impl Serialize for AuditEntry {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("auditLogId", &self.id)?;
        map.serialize_entry("creationDate", &to_wire(self.creation_date))?;
        if let Some(org) = self.org_id {
            map.serialize_entry("orgId", &org)?;
        }
        for (prefix, target) in [("primaryTarget", &self.application), ("secondaryTarget", &self.token)] {
            if let Some(target) = target {
                map.serialize_entry(&format!("{prefix}Id"), &target.id)?;
                map.serialize_entry(&format!("{prefix}Type"), target.kind.as_str())?;
                map.serialize_entry(&format!("{prefix}Name"), &target.name)?;
            }
        }
        if let Some(actor) = &self.actor {
            map.serialize_entry("actorId", &actor.id)?;
            map.serialize_entry("actorType", actor.kind.as_str())?;
        }
        map.serialize_entry("actorName", self.actor_name())?;
        map.serialize_entry("requestResource", &self.request_resource)?;
        map.serialize_entry("requestAction", &self.request_action)?;
        map.serialize_entry("requestPathParams", &self.request_path_params)?;
        map.serialize_entry("requestQueryParams", &self.request_query_params)?;
        map.serialize_entry("requestBody", &self.request_body)?;
        map.serialize_entry("responseStatus", &self.response_status)?;
        map.serialize_entry("responseBody", &self.response_body)?;
        if let Some(source_ip) = &self.source_ip {
            map.serialize_entry("sourceIp", source_ip)?;
        }
        if let Some(user_agent) = &self.user_agent {
            map.serialize_entry("userAgent", user_agent)?;
        }
        map.end()
    }
}

/// What replaces a secret in an entry.
pub const REDACTED: &str = "[redacted]";

/// Object keys whose values are secrets whatever they look like.
const SECRET_KEYS: [&str; 4] = ["token", "password", "secret", "authorization"];

/// `value` with every secret replaced by [`REDACTED`]: the values of keys
/// named like secrets (`token`, `password`, …, any case), and every string
/// holding something shaped like a JWT (three base64url parts, the first
/// starting `eyJ`), wherever it is — a token pasted into a description
/// included.
pub fn redact(value: Value) -> Value {
    match value {
        Value::String(text) => Value::String(redact_text(text)),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        Value::Object(fields) => Value::Object(redact_fields(fields)),
        other => other,
    }
}

/// `text`, or [`REDACTED`] when it holds something shaped like a JWT.
pub fn redact_text(text: String) -> String {
    if holds_a_jwt(&text) {
        REDACTED.to_string()
    } else {
        text
    }
}

/// `fields` [`redact`]ed: a field named like a secret loses its value whole.
pub fn redact_fields(fields: Map<String, Value>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(key, value)| {
            let secret = SECRET_KEYS.iter().any(|name| key.eq_ignore_ascii_case(name));
            let value = if secret {
                Value::String(REDACTED.to_string())
            } else {
                redact(value)
            };
            (key, value)
        })
        .collect()
}

/// Whether `text` holds `eyJ` followed by base64url characters with at least
/// two dots among them: the shape of every JWT, and so of every token.
fn holds_a_jwt(text: &str) -> bool {
    let is_jwt_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    text.match_indices("eyJ").any(|(start, _)| {
        let run: String = text[start..].chars().take_while(|c| is_jwt_char(*c)).collect();
        run.split('.').filter(|part| !part.is_empty()).count() >= 3
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_are_redacted_wherever_they_are() {
        let jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let body = json!({
            "name": "ingest",
            "description": format!("pasted: {jwt} oops"),
            "token": "anything at all",
            "Password": "hunter2",
            "scope": ["device.get", jwt],
            "nested": {"deeper": [{"value": jwt}]},
            "count": 3,
        });
        let redacted = redact(body);
        assert_eq!(
            redacted,
            json!({
                "name": "ingest",
                "description": REDACTED,
                "token": REDACTED,
                "Password": REDACTED,
                "scope": ["device.get", REDACTED],
                "nested": {"deeper": [{"value": REDACTED}]},
                "count": 3,
            })
        );
    }

    #[test]
    fn ordinary_text_is_kept() {
        for text in [
            "eyJ",
            "eyJ.a",
            "my eyJ.token name",
            "a.b.c",
            "all.Application.read",
            "名前 🔑",
        ] {
            assert_eq!(redact(json!(text)), json!(text), "{text}");
        }
    }

    #[test]
    fn wire_form_has_losants_fields_and_the_callers_address() {
        let id: Id = "5f1a2b3c4d5e6f7a8b9c0d1e".parse().unwrap();
        let entry = AuditEntry {
            id,
            creation_date: 1_465_790_400_000,
            org_id: None,
            application: Some(Named {
                kind: TargetType::Application,
                id,
                name: "Weather".to_string(),
            }),
            token: None,
            actor: Some(Named {
                kind: ActorType::ApiToken,
                id,
                name: "admin".to_string(),
            }),
            request_resource: "applicationApiTokens".to_string(),
            request_action: "post".to_string(),
            request_path_params: Map::new(),
            request_query_params: Map::new(),
            request_body: json!({"name": "x"}),
            response_status: 201,
            response_body: json!({}),
            source_ip: Some("127.0.0.1".to_string()),
            user_agent: None,
        };
        let wire = serde_json::to_value(&entry).unwrap();
        assert_eq!(wire["auditLogId"], wire["id"]);
        assert_eq!(wire["creationDate"], "2016-06-13T04:00:00.000Z");
        assert_eq!(wire["primaryTargetType"], "Application");
        assert_eq!(wire["actorType"], "ApiToken");
        assert_eq!(wire["sourceIp"], "127.0.0.1");
        assert!(wire.get("orgId").is_none() && wire.get("secondaryTargetId").is_none());
        let operator = AuditEntry { actor: None, ..entry };
        let wire = serde_json::to_value(&operator).unwrap();
        assert_eq!(wire["actorName"], OPERATOR);
        assert!(wire.get("actorType").is_none());
    }
}
