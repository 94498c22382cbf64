//! Scopes and the rules by which a scope grants an action (spec section 4),
//! over the catalog of scope names in `spec/scopes.json`.

use std::collections::{BTreeMap, HashSet};
use std::sync::LazyLock;

/// Who owns the application an action targets; `all.Organization` scopes act
/// only on organization-owned applications.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetOwner {
    User,
    Organization,
}

/// A concrete action, `resource.name`, e.g. `applicationApiTokens.get`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Action {
    resource: String,
    name: String,
}

impl Action {
    /// Parses `resource.name`: two non-empty parts, one dot.
    pub fn parse(text: &str) -> Option<Action> {
        let (resource, name) = text.split_once('.')?;
        let valid = |part: &str| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric());
        (valid(resource) && valid(name)).then(|| Action {
            resource: resource.to_string(),
            name: name.to_string(),
        })
    }

    pub fn new(resource: &str, name: &str) -> Action {
        Action {
            resource: resource.to_string(),
            name: name.to_string(),
        }
    }

    /// Read-only actions are named `get` or begin with `get`.
    pub fn is_read_only(&self) -> bool {
        self.name.starts_with("get")
    }

    /// API tokens themselves: the `.cli` scopes do not reach them (the seed's
    /// lists leave them out), so a CLI token can never mint or manage tokens.
    fn is_on_api_tokens(&self) -> bool {
        matches!(self.resource.as_str(), "applicationApiToken" | "applicationApiTokens")
    }

    fn is_on_devices(&self) -> bool {
        matches!(
            self.resource.as_str(),
            "device" | "devices" | "deviceAttribute" | "deviceAttributes" | "deviceRecipe" | "deviceRecipes" | "data"
        )
    }

    fn matches_name(&self, scope: &str) -> bool {
        scope.len() == self.resource.len() + 1 + self.name.len()
            && scope.starts_with(&self.resource)
            && scope[self.resource.len()..].starts_with('.')
            && scope.ends_with(&self.name)
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.resource, self.name)
    }
}

/// Whether `scope` grants `action` on an application owned by `owner`.
///
/// Spec rule 3 says the `.cli` scopes grant every action, yet the seed's
/// lists for `applicationApiTokens.get`/`.post` (which the spec calls exact)
/// leave them out. We follow the seed, Losant's own documentation: `.cli`
/// scopes grant everything but the API-token actions.
pub fn grants(scope: &str, action: &Action, owner: TargetOwner) -> bool {
    let on_org = owner == TargetOwner::Organization;
    match scope {
        "all.Application" | "all.User" => true,
        "all.Application.cli" | "all.User.cli" => !action.is_on_api_tokens(),
        "all.Organization" => on_org,
        "all.Application.read" | "all.User.read" => action.is_read_only(),
        "all.Organization.read" => on_org && action.is_read_only(),
        "all.Device" => action.is_on_devices(),
        "all.Device.read" => action.is_on_devices() && action.is_read_only(),
        _ => match scope.strip_suffix(".*") {
            Some(resource) => resource == action.resource,
            None => action.matches_name(scope),
        },
    }
}

/// Whether any of `scopes` grants `action`.
pub fn any_grants<S: AsRef<str>>(scopes: &[S], action: &Action, owner: TargetOwner) -> bool {
    scopes.iter().any(|scope| grants(scope.as_ref(), action, owner))
}

/// The scopes among `requested` that grant some application action which
/// `caller` is not granted on an application owned by `owner`: what a caller
/// may not hand out (spec section 5). Empty means no escalation.
pub fn escalations<'a, S: AsRef<str>>(requested: &'a [String], caller: &[S], owner: TargetOwner) -> Vec<&'a str> {
    let catalog = catalog();
    let withheld: Vec<&Action> = catalog
        .application_actions
        .iter()
        .filter(|action| !any_grants(caller, action, owner))
        .collect();
    requested
        .iter()
        .map(String::as_str)
        .filter(|scope| withheld.iter().any(|action| grants(scope, action, owner)))
        .collect()
}

/// The scope names Latchkey knows, grouped by the kind of token that may hold them.
pub struct Catalog {
    by_kind: BTreeMap<String, Vec<String>>,
    application: HashSet<String>,
    known: HashSet<String>,
    /// Every concrete `resource.action` in the `application` list.
    application_actions: Vec<Action>,
}

impl Catalog {
    /// Whether an application token may hold `scope`.
    pub fn is_application_scope(&self, scope: &str) -> bool {
        self.application.contains(scope)
    }

    /// Whether `scope` is in any list (user tokens may hold any of them).
    pub fn is_known_scope(&self, scope: &str) -> bool {
        self.known.contains(scope)
    }

    pub fn kinds(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.by_kind
            .iter()
            .map(|(kind, scopes)| (kind.as_str(), scopes.as_slice()))
    }
}

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
    let by_kind: BTreeMap<String, Vec<String>> =
        serde_json::from_str(include_str!("../../../spec/scopes.json")).expect("spec/scopes.json is valid");
    let application_list = by_kind.get("application").expect("scopes.json has an application list");
    let application_actions = application_list
        .iter()
        .filter(|scope| !scope.starts_with("all.") && !scope.ends_with(".*"))
        .filter_map(|scope| Action::parse(scope))
        .collect();
    Catalog {
        application: application_list.iter().cloned().collect(),
        known: by_kind.values().flatten().cloned().collect(),
        application_actions,
        by_kind,
    }
});

pub fn catalog() -> &'static Catalog {
    &CATALOG
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetOwner::*;

    fn action(text: &str) -> Action {
        Action::parse(text).unwrap()
    }

    #[test]
    fn the_seed_lists_for_get_and_post() {
        let get = action("applicationApiTokens.get");
        let post = action("applicationApiTokens.post");
        let get_granters = [
            "all.Application",
            "all.Application.read",
            "all.Organization",
            "all.Organization.read",
            "all.User",
            "all.User.read",
            "applicationApiTokens.*",
            "applicationApiTokens.get",
        ];
        let post_granters = [
            "all.Application",
            "all.Organization",
            "all.User",
            "applicationApiTokens.*",
            "applicationApiTokens.post",
        ];
        for scope in catalog().kinds().flat_map(|(_, scopes)| scopes) {
            assert_eq!(
                grants(scope, &get, Organization),
                get_granters.contains(&scope.as_str()),
                "{scope} on get"
            );
            assert_eq!(
                grants(scope, &post, Organization),
                post_granters.contains(&scope.as_str()),
                "{scope} on post"
            );
        }
    }

    #[test]
    fn organization_scopes_only_on_organization_applications() {
        let get = action("application.get");
        assert!(grants("all.Organization", &get, Organization));
        assert!(!grants("all.Organization", &get, User));
        assert!(!grants("all.Organization.read", &get, User));
    }

    #[test]
    fn read_only_and_device_rules() {
        assert!(grants("all.Application.read", &action("device.getState"), User));
        assert!(!grants("all.Application.read", &action("device.sendState"), User));
        assert!(grants("all.Device", &action("deviceRecipe.bulkCreate"), User));
        assert!(grants("all.Device", &action("data.export"), User));
        assert!(!grants("all.Device", &action("flow.get"), User));
        assert!(grants("all.Device.read", &action("devices.get"), User));
        assert!(!grants("all.Device.read", &action("devices.post"), User));
        assert!(!grants("device.*", &action("devices.get"), User));
        assert!(!grants("device.get", &action("device.getState"), User));
        assert!(!grants("device.getX", &action("device.get"), User));
    }

    #[test]
    fn no_escalation_from_narrow_to_broad() {
        let caller = ["applicationApiTokens.post", "device.sendState"];
        let ask = |scopes: &[&str]| {
            let requested: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
            escalations(&requested, &caller, User)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        };
        assert_eq!(ask(&["all.Application"]), ["all.Application"]);
        assert_eq!(ask(&["device.sendState", "device.*"]), ["device.*"]);
        assert!(ask(&["device.sendState"]).is_empty());
        assert!(ask(&["applicationApiTokens.post"]).is_empty());
        assert_eq!(ask(&["applicationApiTokens.*"]), ["applicationApiTokens.*"]);
        let broad = ["all.Application".to_string()];
        assert!(escalations(&broad, &["all.User"], User).is_empty());
        assert!(escalations(&broad, &["all.Organization"], Organization).is_empty());
        assert_eq!(escalations(&broad, &["all.Organization"], User), ["all.Application"]);
        let read = ["all.Application.read".to_string()];
        assert!(escalations(&read, &["all.Application.read"], User).is_empty());
        assert!(escalations(&read, &["all.User.read"], User).is_empty());
        assert_eq!(escalations(&read, &["all.Device.read"], User), ["all.Application.read"]);
    }

    #[test]
    fn catalog_is_loaded() {
        let catalog = catalog();
        assert!(catalog.is_application_scope("applicationApiTokens.get"));
        assert!(!catalog.is_application_scope("all.User"));
        assert!(catalog.is_known_scope("all.User"));
        assert!(catalog.application_actions.len() > 200);
        assert!(Action::parse("a.b.c").is_none());
        assert!(Action::parse(".get").is_none());
    }
}
