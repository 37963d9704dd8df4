//! A tenant's role mapping and the `effectiveRoles` it gives a user. Pure: the service reads
//! the mapping, the user's groups and the groups' own memberships, and asks here.
//!
//! A mapping is a list of rules and a default role:
//! - `{"group": ID, "role": R}` gives R to the members of the group, direct or through nested
//!   groups (a group that is a member of the group, at any depth);
//! - `{"idpRole": V, "role": R}` gives R to a user one of whose normalized `roles[].value`
//!   (see [`super::normalize::roles`]) is V, compared case-sensitively;
//! - `default` is the role of a user that no rule matches (none: such a user has no role).
//!
//! A user's `effectiveRoles` are the roles of every rule that matches, sorted and unique, or
//! `[default]` when none matches.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::{json, Map, Value};

use super::error::ScimError;

/// Most rules a mapping holds.
pub const MAX_RULES: usize = 200;
/// Longest role name, in characters.
pub const MAX_ROLE_CHARS: usize = 100;
/// Longest group id or IdP role value a rule matches on, in characters.
pub const MAX_MATCH_CHARS: usize = 1000;

/// What a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Members of this group (by id), through nested groups too.
    Group(String),
    /// Users with this IdP role value.
    IdpRole(String),
}

/// One rule: who gets `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub matches: Match,
    pub role: String,
}

/// A tenant's mapping. The empty one (no rules, no default) gives nobody a role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMapping {
    pub rules: Vec<Rule>,
    pub default: Option<String>,
}

fn bad(detail: String) -> ScimError {
    ScimError::invalid_value(detail)
}

/// A role name: 1 to [`MAX_ROLE_CHARS`] characters, none of them a control character, not
/// blank.
fn check_role(at: &str, value: &Value) -> Result<String, ScimError> {
    let Some(text) = value.as_str() else {
        return Err(bad(format!(
            "{at} must be a role name (a string of 1 to {MAX_ROLE_CHARS} printable characters)"
        )));
    };
    let chars = text.chars().count();
    if text.trim().is_empty() || chars > MAX_ROLE_CHARS {
        return Err(bad(format!(
            "{at} is {chars} characters long; a role name has 1 to {MAX_ROLE_CHARS} printable characters, not all spaces"
        )));
    }
    if text.chars().any(char::is_control) {
        return Err(bad(format!(
            "{at} holds a control character; a role name has printable characters only"
        )));
    }
    Ok(text.to_string())
}

fn check_match(at: &str, key: &str, value: &Value) -> Result<String, ScimError> {
    match value.as_str() {
        Some(text)
            if !text.is_empty()
                && text.chars().count() <= MAX_MATCH_CHARS
                && !text.chars().any(char::is_control) =>
        {
            Ok(text.to_string())
        }
        _ => Err(bad(format!(
            "{at}.{key} must be a non-empty string of at most {MAX_MATCH_CHARS} printable characters"
        ))),
    }
}

fn parse_rule(at: &str, rule: &Value) -> Result<Rule, ScimError> {
    let Some(obj) = rule.as_object() else {
        return Err(bad(format!(
            "{at} must be an object: {{\"group\": ID, \"role\": R}} or {{\"idpRole\": V, \"role\": R}}"
        )));
    };
    if let Some(key) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "group" | "idpRole" | "role"))
    {
        return Err(bad(format!(
            "{at} has an unknown key {key:?}; a rule has \"group\" or \"idpRole\", and \"role\""
        )));
    }
    let matches = match (obj.get("group"), obj.get("idpRole")) {
        (Some(g), None) => Match::Group(check_match(at, "group", g)?),
        (None, Some(r)) => Match::IdpRole(check_match(at, "idpRole", r)?),
        (Some(_), Some(_)) => {
            return Err(bad(format!(
                "{at} has both \"group\" and \"idpRole\"; make it two rules"
            )))
        }
        (None, None) => {
            return Err(bad(format!(
                "{at} matches nothing: give it \"group\" (a group id) or \"idpRole\" (a role value the identity provider sends)"
            )))
        }
    };
    let role = obj
        .get("role")
        .ok_or_else(|| bad(format!("{at} has no \"role\": say which role it gives")))?;
    Ok(Rule {
        matches,
        role: check_role(&format!("{at}.role"), role)?,
    })
}

impl RoleMapping {
    /// A mapping as the API's body gives it: `{"rules": [...], "default": R | null}`. Every
    /// error names the rule (`rules[3]`) and what to fix. Whether a group rule names a group
    /// of the tenant is the caller's to check ([`RoleMapping::group_ids`]).
    pub fn from_json(body: &Value) -> Result<RoleMapping, ScimError> {
        let Some(obj) = body.as_object() else {
            return Err(bad(
                "the body must be an object: {\"rules\": [...], \"default\": \"member\"}".into(),
            ));
        };
        if let Some(key) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "rules" | "default"))
        {
            return Err(bad(format!(
                "unknown key {key:?}; a role mapping has \"rules\" and \"default\""
            )));
        }
        let rules = match obj.get("rules") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > MAX_RULES {
                    return Err(bad(format!(
                        "rules has {} rules; a mapping holds at most {MAX_RULES}",
                        items.len()
                    )));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, r)| parse_rule(&format!("rules[{i}]"), r))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => return Err(bad("rules must be an array of rules".into())),
        };
        let default = match obj.get("default") {
            None | Some(Value::Null) => None,
            Some(v) => Some(check_role("default", v)?),
        };
        Ok(RoleMapping { rules, default })
    }

    /// The mapping as the API shows it (and as it is stored).
    pub fn to_json(&self) -> Value {
        json!({"rules": self.rules_json(), "default": self.default})
    }

    /// The rules alone, as JSON.
    pub fn rules_json(&self) -> Value {
        let rules: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut obj = Map::new();
                match &r.matches {
                    Match::Group(id) => obj.insert("group".into(), Value::from(id.as_str())),
                    Match::IdpRole(v) => obj.insert("idpRole".into(), Value::from(v.as_str())),
                };
                obj.insert("role".into(), Value::from(r.role.as_str()));
                Value::Object(obj)
            })
            .collect();
        Value::Array(rules)
    }

    /// The group ids the rules name, with the index of the first rule naming each.
    pub fn group_ids(&self) -> Vec<(usize, &str)> {
        let mut seen = HashSet::new();
        self.rules
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match &r.matches {
                Match::Group(id) if seen.insert(id.as_str()) => Some((i, id.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Whether any rule matches on groups (then membership changes can move roles).
    pub fn has_group_rules(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.matches, Match::Group(_)))
    }

    /// The effective roles of a user: `groups` is every group the user belongs to, directly
    /// or through nested groups ([`all_groups`]), `idp_roles` the values of its normalized
    /// roles. Sorted and unique; `[default]` when no rule matches, `[]` without a default.
    pub fn effective_roles(&self, groups: &HashSet<String>, idp_roles: &[&str]) -> Vec<String> {
        let mut out = BTreeSet::new();
        for rule in &self.rules {
            let hit = match &rule.matches {
                Match::Group(id) => groups.contains(id.as_str()),
                Match::IdpRole(v) => idp_roles.contains(&v.as_str()),
            };
            if hit {
                out.insert(rule.role.clone());
            }
        }
        if out.is_empty() {
            return self.default.iter().cloned().collect();
        }
        out.into_iter().collect()
    }
}

/// Every group a member of `direct` groups belongs to: those groups and, following `parents`
/// (a group's id → the groups it is a direct member of), the groups they are members of, at
/// any depth. A cycle (a group nested in itself through others) ends where it closes.
pub fn all_groups(direct: &[&str], parents: &HashMap<String, Vec<String>>) -> HashSet<String> {
    let mut seen: HashSet<String> = HashSet::new();
    let mut next: Vec<&str> = direct.to_vec();
    while let Some(id) = next.pop() {
        if !seen.insert(id.to_string()) {
            continue;
        }
        if let Some(up) = parents.get(id) {
            next.extend(up.iter().map(String::as_str));
        }
    }
    seen
}

/// The groups inside `roots` at any depth (the roots included), following `children` (a
/// group's id → the groups that are its direct members).
pub fn nested_groups(roots: &[String], children: &HashMap<String, Vec<String>>) -> Vec<String> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    let mut next: Vec<&str> = roots.iter().map(String::as_str).collect();
    while let Some(id) = next.pop() {
        if !seen.insert(id) {
            continue;
        }
        out.push(id.to_string());
        if let Some(down) = children.get(id) {
            next.extend(down.iter().map(String::as_str));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping() -> RoleMapping {
        RoleMapping::from_json(&json!({
            "rules": [
                {"group": "g-eng", "role": "editor"},
                {"idpRole": "Admin", "role": "admin"},
                {"group": "g-all", "role": "viewer"},
            ],
            "default": "member",
        }))
        .expect("valid")
    }

    fn set(ids: &[&str]) -> HashSet<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn rules_give_their_roles_sorted_and_unique() {
        let m = mapping();
        assert_eq!(
            m.effective_roles(&set(&["g-eng", "g-all"]), &["Admin"]),
            vec!["admin", "editor", "viewer"]
        );
        assert_eq!(m.effective_roles(&set(&["g-eng"]), &[]), vec!["editor"]);
    }

    #[test]
    fn no_match_is_the_default_or_nothing() {
        let m = mapping();
        assert_eq!(m.effective_roles(&set(&["other"]), &[]), vec!["member"]);
        // IdP role values are compared case-sensitively.
        assert_eq!(m.effective_roles(&set(&[]), &["admin"]), vec!["member"]);
        let none = RoleMapping { default: None, ..m };
        assert!(none.effective_roles(&set(&[]), &[]).is_empty());
        assert!(RoleMapping::default()
            .effective_roles(&set(&["g-eng"]), &["Admin"])
            .is_empty());
    }

    #[test]
    fn nested_groups_count_and_cycles_end() {
        let parents: HashMap<String, Vec<String>> = [
            ("g-team".to_string(), vec!["g-eng".to_string()]),
            ("g-eng".to_string(), vec!["g-all".to_string()]),
            ("g-all".to_string(), vec!["g-team".to_string()]),
        ]
        .into_iter()
        .collect();
        let all = all_groups(&["g-team"], &parents);
        assert_eq!(all, set(&["g-team", "g-eng", "g-all"]));
        let children: HashMap<String, Vec<String>> =
            [("g-all".to_string(), vec!["g-eng".to_string()])]
                .into_iter()
                .collect();
        let mut inside = nested_groups(&["g-all".to_string()], &children);
        inside.sort();
        assert_eq!(inside, vec!["g-all", "g-eng"]);
    }

    #[test]
    fn the_mapping_round_trips() {
        let m = mapping();
        assert_eq!(RoleMapping::from_json(&m.to_json()), Ok(m.clone()));
        assert_eq!(m.group_ids(), vec![(0, "g-eng"), (2, "g-all")]);
        assert!(m.has_group_rules());
    }

    #[test]
    fn bad_rules_are_named() {
        let cases = [
            (
                json!({"rules": [{"role": "x"}]}),
                "rules[0] matches nothing",
            ),
            (
                json!({"rules": [{"group": "g", "role": "x"}, {"group": "g", "idpRole": "A", "role": "x"}]}),
                "rules[1] has both",
            ),
            (
                json!({"rules": [{"group": "g"}]}),
                "rules[0] has no \"role\"",
            ),
            (
                json!({"rules": [{"group": "g", "role": ""}]}),
                "rules[0].role is 0 characters",
            ),
            (
                json!({"rules": [{"group": "g", "role": "a\u{7}"}]}),
                "rules[0].role holds a control character",
            ),
            (
                json!({"rules": [{"group": "g", "role": "x".repeat(101)}]}),
                "rules[0].role is 101 characters",
            ),
            (
                json!({"rules": [{"group": 5, "role": "x"}]}),
                "rules[0].group must be",
            ),
            (
                json!({"rules": [{"group": "g", "role": "x", "extra": 1}]}),
                "rules[0] has an unknown key \"extra\"",
            ),
            (json!({"rules": {}}), "rules must be an array"),
            (json!({"default": 3}), "default must be a role name"),
            (json!({"roles": []}), "unknown key \"roles\""),
            (json!([]), "the body must be an object"),
        ];
        for (body, want) in cases {
            let err = RoleMapping::from_json(&body).expect_err("refused");
            assert!(err.detail.contains(want), "{} lacks {want}", err.detail);
        }
        let many: Vec<Value> = (0..=MAX_RULES)
            .map(|i| json!({"idpRole": format!("r{i}"), "role": "x"}))
            .collect();
        let err = RoleMapping::from_json(&json!({ "rules": many })).expect_err("too many");
        assert!(err.detail.contains("at most 200"), "{}", err.detail);
        // 100 characters, some of them not ASCII, is a role name.
        let long = "é".repeat(MAX_ROLE_CHARS);
        assert!(RoleMapping::from_json(&json!({ "default": long })).is_ok());
    }
}
