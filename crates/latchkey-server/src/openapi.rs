//! The OpenAPI 3.1 document of the whole HTTP surface, served at
//! `GET /openapi.json`.
//!
//! Each operation is the `#[utoipa::path]` attribute on its handler, and the
//! router registers every route from those same attributes (`routes::router`),
//! so a route cannot be served with another path or method than the document
//! says. The types below describe the JSON the handlers write (the wire
//! format of `schemas/`, written by hand in `latchkey_core::model`); the
//! schemathesis run of `scripts/test.sh` checks every response against them.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::Extension;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use latchkey_core::audit_list::{
    AuditSortField, ACTOR_TYPES, AUDIT_PER_PAGE, MAX_FILTER_ITEMS, MAX_FILTER_TEXT_CHARS, PRIMARY_TARGET_TYPES,
    SECONDARY_TARGET_TYPES,
};
use latchkey_core::list::{MAX_FILTER_CHARS, MAX_PER_PAGE};
use latchkey_core::scope::catalog;
use latchkey_core::validate::{MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS};
use serde_json::json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn, ParameterStyle};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr, Required};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

/// An id: 24 hexadecimal characters, either case.
const ID_PATTERN: &str = "^[A-Fa-f0-9]{24}$";

/// Blank as `str::trim` sees it: only Unicode white space (which, unlike
/// ECMA-262's `\s`, includes U+0085 and excludes U+FEFF).
const BLANK_PATTERN: &str = r"^[\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$";

/// The base of the document: everything but the paths, which the router adds.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Latchkey",
        description = "A self-hosted API token service that speaks the Losant Platform API's wire format for Application API Tokens.",
        license(name = "MIT", identifier = "MIT"),
    ),
    modifiers(&Security),
    components(
        schemas(
            Error, Success, Revoked, ApiToken, ApiTokenCreated, ApiTokens, ApiTokenPost, ApiTokenPatch, ApiTokenBulkPatch,
            Application, Applications, ApplicationPost, ApplicationPatch, Introspection, Jwks, Jwk, Ready,
        ),
        responses(BadRequest, Unauthorized, Forbidden, NotFound, Gone, PayloadTooLarge, TooManyRequests, Unavailable),
    ),
    tags(
        (name = "API Tokens", description = "An application's API tokens (spec 1.1 to 1.3)."),
        (name = "Applications", description = "Just enough applications to own tokens (spec 1.4)."),
        (name = "Authentication", description = "Checking tokens: introspection and the signing keys (spec 6)."),
        (name = "Audit Logs", description = "Who changed, or tried to change, which application or token (Losant's audit logs)."),
        (name = "Verifier feed", description = "What a service needs to check an application's tokens itself (spec 1.6)."),
        (name = "Operations", description = "For operators and orchestrators, without authentication."),
    ),
)]
pub struct ApiDoc;

/// The `bearer` scheme every authenticated operation names.
struct Security;

impl Modify for Security {
    fn modify(&self, document: &mut Document) {
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".to_string());
        bearer.description = Some("An API token: `Authorization: Bearer <token>`, the scheme case-insensitive.".into());
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(bearer));
    }
}

/// The document as served: serialized once, when the router is built (it is
/// made from the router, so it is set after the route that serves it).
/// Only that route carries it, so no other request pays for the extension.
#[derive(Clone, Default)]
pub struct Served(Arc<OnceLock<Bytes>>);

impl Served {
    pub fn set(&self, document: &Document) {
        let json = document.to_json().expect("the OpenAPI document serializes");
        let _ = self.0.set(Bytes::from(json));
    }
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    tag = "Operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object)),
)]
pub async fn document(Extension(Served(json)): Extension<Served>) -> Response {
    let json = json
        .get()
        .cloned()
        .expect("the router sets the document when it is built");
    ([(CONTENT_TYPE, "application/json")], json).into_response()
}

// ---- Errors ----

/// Every error (spec section 2).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Error {
    #[schema(inline)]
    pub r#type: ErrorType,
    /// What went wrong, in words a person can act on.
    pub message: String,
}

#[derive(ToSchema)]
pub enum ErrorType {
    Validation,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Gone,
    PayloadTooLarge,
    TooManyRequests,
    ServiceUnavailable,
}

/// The error responses, each a reusable component that operations name.
macro_rules! error_response {
    ($name:ident, $description:literal) => {
        pub struct $name;

        impl<'s> ToResponse<'s> for $name {
            fn response() -> (&'s str, RefOr<utoipa::openapi::Response>) {
                (stringify!($name), error_response($description, None))
            }
        }
    };
}

fn error_response(
    description: &str,
    header: Option<(&str, utoipa::openapi::header::Header)>,
) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Error")))
        .build();
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", content);
    if let Some((name, header)) = header {
        response = response.header(name, header);
    }
    RefOr::T(response.build())
}

error_response!(BadRequest, "`Validation`: a malformed id, parameter, JSON or body.");
error_response!(
    Unauthorized,
    "`Unauthorized`: no token, or one that is malformed, forged, unknown, deleted, inactive or expired."
);
error_response!(
    Forbidden,
    "`Forbidden`: the token reaches the application but lacks the scope, or would give more than it has."
);
error_response!(
    NotFound,
    "`NotFound`: no such application or token, or an application the caller cannot reach."
);
error_response!(PayloadTooLarge, "`PayloadTooLarge`: the body is over 1 MiB.");
error_response!(
    Gone,
    "`Gone`: the feed cursor is older than the feed keeps; read the revoked list again (spec 1.6)."
);
error_response!(
    Unavailable,
    "`ServiceUnavailable`: the token store did not answer; try again shortly."
);

pub struct TooManyRequests;

impl<'s> ToResponse<'s> for TooManyRequests {
    fn response() -> (&'s str, RefOr<utoipa::openapi::Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1))))
            .description(Some("Seconds to wait before the next request."))
            .build();
        let description = "`TooManyRequests`: the token is over the configured rate limit (off by default).";
        (
            "TooManyRequests",
            error_response(description, Some(("Retry-After", retry_after))),
        )
    }
}

/// A set of error responses that operations list together, each a
/// reference to its component above.
macro_rules! error_set {
    ($(#[$doc:meta])* $name:ident: $(($status:literal, $response:ident)),+) => {
        $(#[$doc])*
        pub struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<utoipa::openapi::Response>> {
                [$(($status, stringify!($response))),+]
                    .into_iter()
                    .map(|(status, name)| (status.to_string(), RefOr::Ref(Ref::from_response_name(name))))
                    .collect()
            }
        }
    };
}

error_set!(
    /// An operation on one application or its tokens, without a body.
    ApplicationErrors: ("400", BadRequest), ("401", Unauthorized), ("403", Forbidden), ("404", NotFound),
    ("429", TooManyRequests), ("503", Unavailable)
);
error_set!(
    /// An operation on one application or its tokens, with a body.
    ApplicationBodyErrors: ("400", BadRequest), ("401", Unauthorized), ("403", Forbidden), ("404", NotFound),
    ("413", PayloadTooLarge), ("429", TooManyRequests), ("503", Unavailable)
);

error_set!(
    /// The verifier feed's long poll: an operation on one application whose
    /// cursor may have expired.
    FeedErrors: ("400", BadRequest), ("401", Unauthorized), ("403", Forbidden), ("404", NotFound),
    ("410", Gone), ("429", TooManyRequests), ("503", Unavailable)
);

/// `{"success": true}`
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Success {
    #[schema(schema_with = always_true)]
    pub success: bool,
}

fn always_true() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .enum_values(Some([true]))
}

// ---- Parameters ----

fn id_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(ID_PATTERN))
}

fn path_id(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(id_schema()))
        .build()
}

/// `{applicationId}`
pub struct ApplicationPath;

impl IntoParams for ApplicationPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_id("applicationId", "The application's id.")]
    }
}

/// `{applicationId}/tokens/{apiTokenId}`
pub struct TokenPath;

impl IntoParams for TokenPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            path_id("applicationId", "The application's id."),
            path_id("apiTokenId", "The API token's id."),
        ]
    }
}

fn query(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn string_enum(values: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
}

fn blank() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(BLANK_PATTERN))
}

/// `one of these, or blank`
fn enum_or_blank(values: &[&str]) -> Schema {
    Schema::OneOf(OneOfBuilder::new().item(string_enum(values)).item(blank()).build())
}

/// How a listing sorts and pages by default.
struct ListingDefaults {
    sort_field: &'static str,
    /// How ties on the sort field are broken.
    ties: &'static str,
    sort_direction: &'static str,
    per_page: u32,
}

/// `sortField`, `sortDirection`, `page` and `perPage`, which every listing takes.
fn sort_and_page(sort_fields: &[&str], defaults: ListingDefaults) -> Vec<Parameter> {
    vec![
        query(
            "sortField",
            &format!("The field to sort by; ties are broken by {}.", defaults.ties),
            string_enum(sort_fields).default(Some(json!(defaults.sort_field))),
        ),
        query(
            "sortDirection",
            &format!(
                "`asc` or `desc`, case-insensitive; empty is `{}`.",
                defaults.sort_direction
            ),
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])?$"))
                .default(Some(json!(defaults.sort_direction))),
        ),
        query(
            "page",
            "The page, from 0.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(u64::MAX))
                .default(Some(json!(0))),
        ),
        query(
            "perPage",
            "Items per page.",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .maximum(Some(MAX_PER_PAGE))
                .default(Some(json!(defaults.per_page))),
        ),
    ]
}

/// The listing parameters of spec 1.1 and 1.4.
fn listing(sort_fields: &[&str], filter_fields: &[&str]) -> Vec<Parameter> {
    let defaults = ListingDefaults {
        sort_field: "name",
        ties: "id",
        sort_direction: "asc",
        per_page: MAX_PER_PAGE,
    };
    let mut params = sort_and_page(sort_fields, defaults);
    params.extend([
        query(
            "filterField",
            "The field `filter` applies to; blank or absent, no filtering.",
            enum_or_blank(filter_fields),
        ),
        query(
            "filter",
            "A glob over the whole field, case-insensitive: `*` matches any run of characters, every other character itself. Blank or absent, no filtering.",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_FILTER_CHARS)),
        ),
    ]);
    params
}

/// The query of `GET /applications/{applicationId}/tokens`.
pub struct TokenListQuery;

impl IntoParams for TokenListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = listing(
            &[
                "name",
                "status",
                "id",
                "creationDate",
                "lastUpdated",
                "expirationDate",
                "lastUsed",
            ],
            &["name", "status"],
        );
        params.extend(token_dates());
        params
    }
}

/// `lastUsedBefore` and `createdBefore`, which narrow token listings and bulk changes.
fn token_dates() -> Vec<Parameter> {
    let instant = || {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(i64::MAX))
    };
    vec![
        query(
            "lastUsedBefore",
            "Only tokens last used before this instant, in milliseconds since the Unix epoch; never-used tokens included.",
            instant(),
        ),
        query(
            "createdBefore",
            "Only tokens created before this instant, in milliseconds since the Unix epoch.",
            instant(),
        ),
    ]
}

/// The query of a bulk change of an application's tokens: which tokens, as
/// a listing selects them (its order and page do not matter), and `all`.
pub struct TokenBulkQuery;

impl IntoParams for TokenBulkQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let listing = listing(&[], &["name", "status"]);
        let mut params: Vec<Parameter> = listing
            .into_iter()
            .filter(|param| param.name == "filterField" || param.name == "filter")
            .collect();
        params.extend(token_dates());
        params.push(query(
            "all",
            "`true` to act on every token of the application when no other parameter narrows them; without it such a call is refused (400).",
            string_enum(&["true", "false"]),
        ));
        params
    }
}

/// The query of `GET /applications`.
pub struct ApplicationListQuery;

impl IntoParams for ApplicationListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let mut params = listing(&["name", "id", "creationDate", "lastUpdated"], &["name"]);
        let blank_or_id = format!(
            "^{ws}([A-Fa-f0-9]{{24}}{ws})?$",
            ws = &BLANK_PATTERN[1..BLANK_PATTERN.len() - 1]
        );
        params.push(query(
            "orgId",
            "Absent: every application the caller reaches; blank: the user's own; an id: that organization's (none unless the user is a member).",
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(blank_or_id)),
        ));
        params
    }
}

/// The query of `GET /auth/introspect`.
pub struct IntrospectQuery;

impl IntoParams for IntrospectQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            query(
                "applicationId",
                "With `action`: the application to ask about.",
                id_schema(),
            ),
            query(
                "action",
                "With `applicationId`: the action to ask about, `resource.action`.",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[A-Za-z0-9]+\\.[A-Za-z0-9]+$"))
                    .examples([json!("applicationApiTokens.get")]),
            ),
        ]
    }
}

// ---- Bodies ----

/// Body strings may not hold the NUL character (every backend stores exactly
/// what was sent).
fn text(min: usize, max: usize) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(r"^[^\u0000]*$"))
}

fn name_text() -> ObjectBuilder {
    text(1, MAX_NAME_CHARS)
}

fn description_text() -> ObjectBuilder {
    text(0, MAX_DESCRIPTION_CHARS)
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Inactive,
}

/// The scopes an application token may hold (`spec/scopes.json`).
fn application_scopes() -> ArrayBuilder {
    let (_, scopes) = catalog()
        .kinds()
        .find(|(kind, _)| *kind == "application")
        .expect("the scope catalog has an application list");
    ArrayBuilder::new()
        .items(string_enum(&scopes.iter().map(String::as_str).collect::<Vec<_>>()))
        .min_items(Some(1))
        .unique_items(true)
}

/// Body of `POST /applications/{applicationId}/tokens` (spec 1.2).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiTokenPost {
    #[schema(schema_with = name_text)]
    pub name: String,
    #[schema(required = false, schema_with = description_text)]
    pub description: String,
    /// When the token stops working: an RFC 3339 date-time in the future.
    /// Absent, it never expires. It can never be changed.
    #[schema(required = false, format = DateTime)]
    pub expiration_date: String,
    /// Absent: `["all.Application"]`. The caller may not give more than it has (spec 5).
    #[schema(required = false, schema_with = application_scopes)]
    pub scope: Vec<String>,
    #[schema(required = false, inline)]
    pub status: Status,
}

/// Body of `PATCH /applications/{applicationId}/tokens/{apiTokenId}` (spec 1.3).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiTokenPatch {
    #[schema(required = false, schema_with = name_text)]
    pub name: String,
    #[schema(required = false, schema_with = description_text)]
    pub description: String,
    #[schema(required = false, schema_with = patched_status)]
    pub status: Status,
}

/// A documented inline enum would be wrapped in `allOf` with an object
/// schema (string and object at once: nothing valid), so the note is put
/// on the string itself.
fn patched_status() -> ObjectBuilder {
    string_enum(&["active", "inactive"]).description(Some(
        "Re-activating a token needs the right to have created it (spec 5).",
    ))
}

/// Body of a bulk `PATCH /applications/{applicationId}/tokens`: only
/// deactivation, since activating would need each token's scopes checked.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiTokenBulkPatch {
    #[schema(schema_with = inactive_only)]
    pub status: String,
}

fn inactive_only() -> ObjectBuilder {
    string_enum(&["inactive"])
}

/// The answer to a bulk change: `{"success": true, "count": N}`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Revoked {
    #[schema(schema_with = always_true)]
    pub success: bool,
    /// How many tokens the call deactivated or deleted.
    #[schema(minimum = 0)]
    pub count: u64,
}

/// Body of `POST /applications` (spec 1.4).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationPost {
    #[schema(schema_with = name_text)]
    pub name: String,
    #[schema(required = false, schema_with = description_text)]
    pub description: String,
    /// An organization the user is a member of, to own the application;
    /// absent or null, the user owns it.
    #[schema(required = false, schema_with = org_id)]
    pub org_id: String,
}

fn org_id() -> ObjectBuilder {
    id_schema().schema_type(SchemaType::from_iter([Type::String, Type::Null]))
}

/// Body of `PATCH /applications/{applicationId}` (spec 1.4).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApplicationPatch {
    #[schema(required = false, schema_with = name_text)]
    pub name: String,
    #[schema(required = false, schema_with = description_text)]
    pub description: String,
}

// ---- Responses ----

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum TokenOwnerType {
    Application,
    User,
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum CreatorType {
    ApiToken,
    User,
}

/// An API token (`schemas/apiToken.json`), without its secret.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiToken {
    #[schema(schema_with = id_schema)]
    pub id: String,
    /// The same as `id`.
    #[schema(schema_with = id_schema)]
    pub api_token_id: String,
    #[schema(schema_with = id_schema)]
    pub owner_id: String,
    #[schema(inline)]
    pub owner_type: TokenOwnerType,
    #[schema(schema_with = id_schema)]
    pub creator_id: String,
    #[schema(inline)]
    pub creator_type: CreatorType,
    pub creator_name: String,
    pub name: String,
    pub description: String,
    #[schema(format = DateTime)]
    pub creation_date: String,
    #[schema(format = DateTime)]
    pub last_updated: String,
    /// When the token last authenticated a request, within seconds; absent
    /// when never, in the create response, and from introspection.
    #[schema(required = false, format = DateTime)]
    pub last_used: String,
    /// Absent when the token never expires.
    #[schema(required = false, format = DateTime)]
    pub expiration_date: String,
    pub scope: Vec<String>,
    #[schema(inline)]
    pub status: Status,
}

/// The properties of [`ApiToken`] plus `more`, none other.
fn api_token_with(description: &str, more: &[(&str, RefOr<Schema>, bool)]) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = ApiToken::schema() else {
        unreachable!("ApiToken derives an object schema")
    };
    object.description = Some(description.to_string());
    for (name, schema, required) in more {
        object.properties.insert(name.to_string(), schema.clone());
        if *required {
            object.required.push(name.to_string());
        }
    }
    RefOr::T(Schema::Object(object))
}

/// The create response: the API token with its secret, shown only here.
pub struct ApiTokenCreated;

impl PartialSchema for ApiTokenCreated {
    fn schema() -> RefOr<Schema> {
        let token = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .description(Some("The secret: a JWT. This response is the only one that shows it."));
        api_token_with(
            "The create response: the API token with its secret, shown only here.",
            &[("token", token.into(), true)],
        )
    }
}

impl ToSchema for ApiTokenCreated {
    fn name() -> Cow<'static, str> {
        "ApiTokenCreated".into()
    }
}

/// `GET /auth/introspect`: the calling token's own record, `active`, and
/// `allowed` when asked about an application and action (spec 6).
pub struct Introspection;

impl PartialSchema for Introspection {
    fn schema() -> RefOr<Schema> {
        let allowed = ObjectBuilder::new().schema_type(Type::Boolean).description(Some(
            "Whether the token may do `action` on `applicationId`; only when both were given.",
        ));
        api_token_with(
            "The calling token's own record, `active`, and `allowed` when asked (spec 6).",
            &[
                ("active", always_true().into(), true),
                ("allowed", allowed.into(), false),
            ],
        )
    }
}

impl ToSchema for Introspection {
    fn name() -> Cow<'static, str> {
        "Introspection".into()
    }
}

#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

/// An application's API tokens, one page (`schemas/apiTokens.json`, spec 1.1).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiTokens {
    pub items: Vec<ApiToken>,
    /// Items on this page.
    #[schema(minimum = 0)]
    pub count: u64,
    /// Tokens matching the filter, on every page.
    #[schema(minimum = 0)]
    pub total_count: u64,
    #[schema(minimum = 1, maximum = 1000)]
    pub per_page: u32,
    #[schema(minimum = 0)]
    pub page: u64,
    pub sort_field: String,
    #[schema(inline)]
    pub sort_direction: SortDirection,
    /// Only when filtering.
    #[schema(required = false)]
    pub filter: String,
    /// Only when filtering.
    #[schema(required = false)]
    pub filter_field: String,
    #[schema(schema_with = id_schema)]
    pub application_id: String,
    #[schema(schema_with = id_schema)]
    pub owner_id: String,
    #[schema(schema_with = application_owner_type)]
    pub owner_type: String,
}

fn application_owner_type() -> ObjectBuilder {
    string_enum(&["application"])
}

#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum AppOwnerType {
    User,
    Organization,
}

/// An application (spec 1.4).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Application {
    #[schema(schema_with = id_schema)]
    pub id: String,
    /// The same as `id`.
    #[schema(schema_with = id_schema)]
    pub application_id: String,
    pub name: String,
    pub description: String,
    #[schema(schema_with = id_schema)]
    pub owner_id: String,
    #[schema(inline)]
    pub owner_type: AppOwnerType,
    #[schema(format = DateTime)]
    pub creation_date: String,
    #[schema(format = DateTime)]
    pub last_updated: String,
}

/// The applications the caller reaches, one page (spec 1.4).
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Applications {
    pub items: Vec<Application>,
    #[schema(minimum = 0)]
    pub count: u64,
    #[schema(minimum = 0)]
    pub total_count: u64,
    #[schema(minimum = 1, maximum = 1000)]
    pub per_page: u32,
    #[schema(minimum = 0)]
    pub page: u64,
    pub sort_field: String,
    #[schema(inline)]
    pub sort_direction: SortDirection,
    #[schema(required = false)]
    pub filter: String,
    #[schema(required = false)]
    pub filter_field: String,
}

/// The public keys that verify issued tokens (RFC 7517).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Jwk {
    #[schema(schema_with = okp)]
    pub kty: String,
    #[schema(schema_with = ed25519)]
    pub crv: String,
    /// The public key, base64url.
    pub x: String,
    /// The key id that issued tokens name in their header.
    pub kid: String,
    #[schema(schema_with = eddsa)]
    pub alg: String,
    #[schema(schema_with = sig)]
    pub r#use: String,
}

fn okp() -> ObjectBuilder {
    string_enum(&["OKP"])
}

fn ed25519() -> ObjectBuilder {
    string_enum(&["Ed25519"])
}

fn eddsa() -> ObjectBuilder {
    string_enum(&["EdDSA"])
}

fn sig() -> ObjectBuilder {
    string_enum(&["sig"])
}

/// `{"ready": true}`
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    #[schema(schema_with = always_true)]
    pub ready: bool,
}

// ---- The audit log ----

/// `{orgId}`
pub struct OrgPath;

impl IntoParams for OrgPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![path_id("orgId", "The organization's id.")]
    }
}

/// `/orgs/{orgId}/audit-logs/{auditLogId}`
pub struct OrgAuditLogPath;

impl IntoParams for OrgAuditLogPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            path_id("orgId", "The organization's id."),
            path_id("auditLogId", "The audit log entry's id."),
        ]
    }
}

/// `/applications/{applicationId}/audit-logs/{auditLogId}`
pub struct ApplicationAuditLogPath;

impl IntoParams for ApplicationAuditLogPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            path_id("applicationId", "The application's id."),
            path_id("auditLogId", "The audit log entry's id."),
        ]
    }
}

fn epoch_millis() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .maximum(Some(i64::MAX))
}

fn filter_text() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_FILTER_TEXT_CHARS))
}

/// Items of one kind of `auditLogFilter`.
fn filter_items(item: ObjectBuilder) -> ArrayBuilder {
    ArrayBuilder::new().items(item).max_items(Some(MAX_FILTER_ITEMS))
}

/// An item of a target or actor filter.
fn named_match(types: &[&str]) -> ObjectBuilder {
    ObjectBuilder::new()
        .property("id", id_schema())
        .property("type", string_enum(types))
        .property("name", filter_text())
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// `auditLogFilter` (`schemas/auditLogFilter.json`).
fn audit_log_filter() -> ObjectBuilder {
    let request = ObjectBuilder::new()
        .property("resource", filter_text())
        .property("action", filter_text())
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    let code = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(100))
        .maximum(Some(599));
    ObjectBuilder::new()
        .property("primaryTarget", filter_items(named_match(PRIMARY_TARGET_TYPES)))
        .property("secondaryTarget", filter_items(named_match(SECONDARY_TARGET_TYPES)))
        .property("actor", filter_items(named_match(ACTOR_TYPES)))
        .property("request", filter_items(request))
        .property("responseCode", filter_items(code))
        .additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

/// The query of both audit log listings (Losant's `auditLogs` Get).
pub struct AuditLogListQuery;

impl IntoParams for AuditLogListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let sort_fields: Vec<&str> = AuditSortField::ALL.iter().map(|field| field.as_str()).collect();
        let filter = ParameterBuilder::new()
            .name("auditLogFilter")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .style(Some(ParameterStyle::DeepObject))
            .explode(Some(true))
            .description(Some(
                "In bracket notation: `auditLogFilter[actor][0][id]=…`, `auditLogFilter[responseCode][0]=404`. \
                 Items of one kind are alternatives, kinds must all match, every field of an item must match.",
            ))
            .schema(Some(audit_log_filter()))
            .build();
        let defaults = ListingDefaults {
            sort_field: "creationDate",
            ties: "id in the same direction",
            sort_direction: "desc",
            per_page: AUDIT_PER_PAGE,
        };
        let mut params = sort_and_page(&sort_fields, defaults);
        params.extend([
            query(
                "start",
                "Only entries created at or after this instant, in milliseconds since the Unix epoch.",
                epoch_millis(),
            ),
            query(
                "end",
                "Only entries created at or before this instant, in milliseconds since the Unix epoch.",
                epoch_millis(),
            ),
            filter,
        ]);
        params
    }
}

fn primary_target_type() -> ObjectBuilder {
    string_enum(PRIMARY_TARGET_TYPES)
}

fn secondary_target_type() -> ObjectBuilder {
    string_enum(SECONDARY_TARGET_TYPES)
}

fn actor_type() -> ObjectBuilder {
    string_enum(ACTOR_TYPES)
}

fn json_object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

fn any_json() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

/// An audit log entry (`schemas/auditLog.json`), with every secret redacted,
/// plus the caller's address and user agent.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditLog {
    #[schema(schema_with = id_schema)]
    pub id: String,
    /// The same as `id`.
    #[schema(schema_with = id_schema)]
    pub audit_log_id: String,
    #[schema(format = DateTime)]
    pub creation_date: String,
    /// The organization owning the application, when one does.
    #[schema(required = false, schema_with = id_schema)]
    pub org_id: String,
    /// The application.
    #[schema(required = false, schema_with = id_schema)]
    pub primary_target_id: String,
    #[schema(required = false, schema_with = primary_target_type)]
    pub primary_target_type: String,
    #[schema(required = false)]
    pub primary_target_name: String,
    /// The API token.
    #[schema(required = false, schema_with = id_schema)]
    pub secondary_target_id: String,
    #[schema(required = false, schema_with = secondary_target_type)]
    pub secondary_target_type: String,
    #[schema(required = false)]
    pub secondary_target_name: String,
    /// Absent for the operator's own commands.
    #[schema(required = false, schema_with = id_schema)]
    pub actor_id: String,
    #[schema(required = false, schema_with = actor_type)]
    pub actor_type: String,
    /// The token's or user's name; `latchkey admin` for the operator's commands.
    pub actor_name: String,
    /// Losant's resource name: `applicationApiTokens`, `applicationApiToken`, …
    pub request_resource: String,
    /// Losant's action name: `post`, `patch`, `delete`, …
    pub request_action: String,
    #[schema(schema_with = json_object)]
    pub request_path_params: String,
    #[schema(schema_with = json_object)]
    pub request_query_params: String,
    #[schema(schema_with = any_json)]
    pub request_body: String,
    #[schema(minimum = 100, maximum = 599)]
    pub response_status: u16,
    #[schema(schema_with = any_json)]
    pub response_body: String,
    /// The caller's address as the server saw it.
    #[schema(required = false)]
    pub source_ip: String,
    #[schema(required = false)]
    pub user_agent: String,
}

/// One page of an audit log (`schemas/auditLogs.json`): `orgId` for an
/// organization's, `applicationId` for an application's.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditLogs {
    pub items: Vec<AuditLog>,
    #[schema(minimum = 0)]
    pub count: u64,
    #[schema(minimum = 0)]
    pub total_count: u64,
    #[schema(minimum = 1, maximum = 1000)]
    pub per_page: u32,
    #[schema(minimum = 0)]
    pub page: u64,
    #[schema(schema_with = audit_sort_field)]
    pub sort_field: String,
    #[schema(inline)]
    pub sort_direction: SortDirection,
    #[schema(required = false, schema_with = id_schema)]
    pub org_id: String,
    #[schema(required = false, schema_with = id_schema)]
    pub application_id: String,
}

fn audit_sort_field() -> ObjectBuilder {
    let fields: Vec<&str> = AuditSortField::ALL.iter().map(|field| field.as_str()).collect();
    string_enum(&fields)
}
