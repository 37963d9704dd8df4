//! Turning SCIM filters into SQL predicates where the attributes are indexed columns.
//! What cannot be expressed in SQL is evaluated in Rust over the (SQL-narrowed) candidates.

use serde_json::Value;

use crate::scim::filter::{CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::schema::{GROUP_SCHEMA, USER_SCHEMA};
use crate::store::groups::GroupPredicate;
use crate::store::users::{NumOp, StrOp, UserPredicate};

/// How a filter will run.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan<P> {
    /// Entirely in SQL, paging included.
    Sql(Option<P>),
    /// SQL narrows to a superset (or scans all when None); Rust evaluates the filter.
    Scan(Option<P>),
}

impl<P> Plan<P> {
    /// Whether the filter runs entirely in SQL (on indexes).
    pub fn is_sql(&self) -> bool {
        matches!(self, Plan::Sql(_))
    }
}

fn is_core(attr: &AttrPath, core_urn: &str) -> bool {
    attr.urn
        .as_deref()
        .is_none_or(|u| u.eq_ignore_ascii_case(core_urn))
}

fn str_op(op: CompareOp) -> Option<StrOp> {
    Some(match op {
        CompareOp::Eq => StrOp::Eq,
        CompareOp::Co => StrOp::Co,
        CompareOp::Sw => StrOp::Sw,
        CompareOp::Ew => StrOp::Ew,
        CompareOp::Gt => StrOp::Gt,
        CompareOp::Ge => StrOp::Ge,
        CompareOp::Lt => StrOp::Lt,
        CompareOp::Le => StrOp::Le,
        CompareOp::Ne => return None,
    })
}

fn num_op(op: CompareOp) -> Option<NumOp> {
    Some(match op {
        CompareOp::Eq => NumOp::Eq,
        CompareOp::Gt => NumOp::Gt,
        CompareOp::Ge => NumOp::Ge,
        CompareOp::Lt => NumOp::Lt,
        CompareOp::Le => NumOp::Le,
        _ => return None,
    })
}

/// A datetime filter value in stored milliseconds. Sub-millisecond precision rounds so
/// that `gt` and `lt` stay correct against millisecond timestamps.
fn millis(op: NumOp, v: &Value) -> Option<(NumOp, i64)> {
    let s = v.as_str()?;
    let dt = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let ms = dt.timestamp_millis();
    let exact = dt.timestamp_subsec_nanos() % 1_000_000 == 0;
    match (op, exact) {
        (_, true) => Some((op, ms)),
        (NumOp::Eq, false) => None,
        // t > 10.5ms  ⇔ t ≥ 11ms (t integer); t < 10.5ms ⇔ t ≤ 10ms.
        (NumOp::Gt | NumOp::Ge, false) => Some((NumOp::Gt, ms)),
        (NumOp::Lt | NumOp::Le, false) => Some((NumOp::Le, ms)),
    }
}

/// A `ne` compiles as `not eq` only where a missing attribute also counts as "not equal".
fn negate<P>(p: Option<P>, not: fn(Box<P>) -> P) -> Option<P> {
    p.map(|p| not(Box::new(p)))
}

fn user_compare(attr: &AttrPath, op: CompareOp, value: &Value) -> Option<UserPredicate> {
    if op == CompareOp::Ne {
        return negate(user_compare(attr, CompareOp::Eq, value), UserPredicate::Not);
    }
    if !is_core(attr, USER_SCHEMA) {
        return None;
    }
    let text = value.as_str();
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    match (name.as_str(), sub.as_deref()) {
        ("id", None) => Some(UserPredicate::Id(str_op(op)?, text?.to_string())),
        ("username", None) => Some(UserPredicate::UserName(str_op(op)?, text?.to_lowercase())),
        ("externalid", None) => Some(UserPredicate::ExternalId(str_op(op)?, text?.to_string())),
        ("displayname", None) => Some(UserPredicate::DisplayName(
            str_op(op)?,
            text?.to_lowercase(),
        )),
        ("emails", None | Some("value")) => Some(UserPredicate::Email {
            email_type: None,
            op: str_op(op)?,
            value: email_value(op, text?),
        }),
        ("active", None) if op == CompareOp::Eq => Some(UserPredicate::Active(value.as_bool()?)),
        ("meta", Some("created")) => {
            let (op, ms) = millis(num_op(op)?, value)?;
            Some(UserPredicate::Created(op, ms))
        }
        ("meta", Some("lastmodified")) => {
            let (op, ms) = millis(num_op(op)?, value)?;
            Some(UserPredicate::LastModified(op, ms))
        }
        _ => None,
    }
}

fn user_present(attr: &AttrPath) -> Option<UserPredicate> {
    if !is_core(attr, USER_SCHEMA) {
        return None;
    }
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    match (name.as_str(), sub.as_deref()) {
        ("id" | "username" | "active", None) => Some(UserPredicate::True),
        ("meta", Some("created" | "lastmodified")) => Some(UserPredicate::True),
        ("externalid", None) => Some(UserPredicate::ExternalIdPresent),
        ("displayname", None) => Some(UserPredicate::DisplayNamePresent),
        ("emails", None | Some("value")) => Some(UserPredicate::EmailPresent { email_type: None }),
        _ => None,
    }
}

/// An emails value as the index holds it: an `eq` compares index forms (so the Unicode and
/// the `xn--` spelling of a domain find the same user); partial matches compare lower case.
fn email_value(op: CompareOp, value: &str) -> String {
    if op == CompareOp::Eq {
        crate::scim::mail::filter_form(value)
    } else {
        value.to_lowercase()
    }
}

/// `emails[type eq "work" and value eq "x"]`: one email row must satisfy both.
fn email_value_path(filter: &Filter) -> Option<UserPredicate> {
    let mut email_type = None;
    let mut cond = None;
    let mut parts = vec![filter];
    let mut conjuncts = Vec::new();
    while let Some(f) = parts.pop() {
        match f {
            Filter::And(a, b) => {
                parts.push(a);
                parts.push(b);
            }
            other => conjuncts.push(other),
        }
    }
    for c in conjuncts {
        match c {
            Filter::Compare { attr, op, value } if attr.urn.is_none() && attr.sub.is_none() => {
                let name = attr.name.to_ascii_lowercase();
                if name == "type" && *op == CompareOp::Eq && email_type.is_none() {
                    email_type = Some(value.as_str()?.to_lowercase());
                } else if name == "value" && cond.is_none() {
                    cond = Some((str_op(*op)?, email_value(*op, value.as_str()?)));
                } else {
                    return None;
                }
            }
            Filter::Present(attr) if attr.urn.is_none() && attr.sub.is_none() => {
                if !attr.name.eq_ignore_ascii_case("value") {
                    return None;
                }
            }
            _ => return None,
        }
    }
    match cond {
        Some((op, value)) => Some(UserPredicate::Email {
            email_type,
            op,
            value,
        }),
        None => Some(UserPredicate::EmailPresent { email_type }),
    }
}

/// The exact SQL form of a user filter, if every part of it is indexed.
pub fn user_predicate(f: &Filter) -> Option<UserPredicate> {
    match f {
        Filter::And(a, b) => Some(UserPredicate::And(
            Box::new(user_predicate(a)?),
            Box::new(user_predicate(b)?),
        )),
        Filter::Or(a, b) => Some(UserPredicate::Or(
            Box::new(user_predicate(a)?),
            Box::new(user_predicate(b)?),
        )),
        Filter::Not(a) => Some(UserPredicate::Not(Box::new(user_predicate(a)?))),
        Filter::Compare { attr, op, value } => user_compare(attr, *op, value),
        Filter::Present(attr) => user_present(attr),
        Filter::ValuePath { attr, filter } => {
            if is_core(attr, USER_SCHEMA)
                && attr.name.eq_ignore_ascii_case("emails")
                && attr.sub.is_none()
            {
                email_value_path(filter)
            } else {
                None
            }
        }
    }
}

/// Most subqueries (email and member lookups, each an `id IN (SELECT …)`) one SQL predicate
/// may hold. PostgreSQL plans the subqueries of a conjunction as semi-joins and searches their
/// join order: 100 take a second to plan and 250 half a minute, from a filter of a few KB.
/// Past this many, the filter is evaluated in Rust over what its other parts select in SQL.
pub const MAX_SQL_SUBQUERIES: usize = 16;

fn group_compare(attr: &AttrPath, op: CompareOp, value: &Value) -> Option<GroupPredicate> {
    if op == CompareOp::Ne {
        return negate(
            group_compare(attr, CompareOp::Eq, value),
            GroupPredicate::Not,
        );
    }
    if !is_core(attr, GROUP_SCHEMA) {
        return None;
    }
    let text = value.as_str();
    let name = attr.name.to_ascii_lowercase();
    let sub = attr.sub.as_deref().map(str::to_ascii_lowercase);
    match (name.as_str(), sub.as_deref()) {
        ("id", None) => Some(GroupPredicate::Id(str_op(op)?, text?.to_string())),
        ("displayname", None) => Some(GroupPredicate::DisplayName(
            str_op(op)?,
            text?.to_lowercase(),
        )),
        ("externalid", None) => Some(GroupPredicate::ExternalId(str_op(op)?, text?.to_string())),
        ("members", None | Some("value")) if op == CompareOp::Eq => {
            Some(GroupPredicate::Member(text?.to_string()))
        }
        ("meta", Some("created")) => {
            let (op, ms) = millis(num_op(op)?, value)?;
            Some(GroupPredicate::Created(op, ms))
        }
        ("meta", Some("lastmodified")) => {
            let (op, ms) = millis(num_op(op)?, value)?;
            Some(GroupPredicate::LastModified(op, ms))
        }
        _ => None,
    }
}

/// The exact SQL form of a group filter, if every part is indexed.
pub fn group_predicate(f: &Filter) -> Option<GroupPredicate> {
    match f {
        Filter::And(a, b) => Some(GroupPredicate::And(
            Box::new(group_predicate(a)?),
            Box::new(group_predicate(b)?),
        )),
        Filter::Or(a, b) => Some(GroupPredicate::Or(
            Box::new(group_predicate(a)?),
            Box::new(group_predicate(b)?),
        )),
        Filter::Not(a) => Some(GroupPredicate::Not(Box::new(group_predicate(a)?))),
        Filter::Compare { attr, op, value } => group_compare(attr, *op, value),
        Filter::Present(attr) if is_core(attr, GROUP_SCHEMA) && attr.sub.is_none() => {
            match attr.name.to_ascii_lowercase().as_str() {
                "id" | "displayname" => Some(GroupPredicate::True),
                "externalid" => Some(GroupPredicate::ExternalIdPresent),
                _ => None,
            }
        }
        Filter::ValuePath { attr, filter }
            if is_core(attr, GROUP_SCHEMA) && attr.name.eq_ignore_ascii_case("members") =>
        {
            match filter.as_ref() {
                Filter::Compare {
                    attr: inner,
                    op: CompareOp::Eq,
                    value,
                } if inner.urn.is_none()
                    && inner.sub.is_none()
                    && inner.name.eq_ignore_ascii_case("value") =>
                {
                    Some(GroupPredicate::Member(value.as_str()?.to_string()))
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// What planning needs of a backend predicate type: its exact form, how to combine two,
/// and how many subqueries it holds.
trait SqlPredicate: Sized {
    fn exact(f: &Filter) -> Option<Self>;
    fn and(a: Self, b: Self) -> Self;
    fn or(a: Self, b: Self) -> Self;
    fn subqueries(&self) -> usize;
}

impl SqlPredicate for UserPredicate {
    fn exact(f: &Filter) -> Option<Self> {
        user_predicate(f)
    }
    fn and(a: Self, b: Self) -> Self {
        UserPredicate::And(Box::new(a), Box::new(b))
    }
    fn or(a: Self, b: Self) -> Self {
        UserPredicate::Or(Box::new(a), Box::new(b))
    }
    fn subqueries(&self) -> usize {
        match self {
            UserPredicate::And(a, b) | UserPredicate::Or(a, b) => a.subqueries() + b.subqueries(),
            UserPredicate::Not(a) => a.subqueries(),
            UserPredicate::Email { .. } | UserPredicate::EmailPresent { .. } => 1,
            _ => 0,
        }
    }
}

impl SqlPredicate for GroupPredicate {
    fn exact(f: &Filter) -> Option<Self> {
        group_predicate(f)
    }
    fn and(a: Self, b: Self) -> Self {
        GroupPredicate::And(Box::new(a), Box::new(b))
    }
    fn or(a: Self, b: Self) -> Self {
        GroupPredicate::Or(Box::new(a), Box::new(b))
    }
    fn subqueries(&self) -> usize {
        match self {
            GroupPredicate::And(a, b) | GroupPredicate::Or(a, b) => a.subqueries() + b.subqueries(),
            GroupPredicate::Not(a) => a.subqueries(),
            GroupPredicate::Member(_) => 1,
            _ => 0,
        }
    }
}

/// A SQL predicate every match of `f` satisfies (a superset), if one exists, built from the
/// parts `leaf` can express: an `and` keeps whichever sides it can, an `or` needs both.
fn superset<P: SqlPredicate>(f: &Filter, leaf: &dyn Fn(&Filter) -> Option<P>) -> Option<P> {
    match f {
        Filter::And(a, b) => match (superset(a, leaf), superset(b, leaf)) {
            (Some(x), Some(y)) => Some(P::and(x, y)),
            (Some(x), None) | (None, Some(x)) => Some(x),
            (None, None) => None,
        },
        Filter::Or(a, b) => Some(P::or(superset(a, leaf)?, superset(b, leaf)?)),
        _ => leaf(f),
    }
}

/// Plan a filter: exactly in SQL when it can and holds few enough subqueries, else a scan
/// narrowed by a SQL superset (one without subqueries when the superset has too many).
fn plan<P: SqlPredicate>(f: Option<&Filter>) -> Plan<P> {
    let Some(f) = f else {
        return Plan::Sql(None);
    };
    match P::exact(f) {
        Some(p) if p.subqueries() <= MAX_SQL_SUBQUERIES => Plan::Sql(Some(p)),
        _ => match superset(f, &P::exact) {
            Some(p) if p.subqueries() > MAX_SQL_SUBQUERIES => Plan::Scan(superset(f, &|g| {
                P::exact(g).filter(|p| p.subqueries() == 0)
            })),
            superset => Plan::Scan(superset),
        },
    }
}

/// Plan a user filter.
pub fn plan_users(f: Option<&Filter>) -> Plan<UserPredicate> {
    plan(f)
}

/// Plan a group filter.
pub fn plan_groups(f: Option<&Filter>) -> Plan<GroupPredicate> {
    plan(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse;

    fn chain(term: &str, n: usize, join: &str) -> Filter {
        parse(&vec![term; n].join(join)).unwrap()
    }

    #[test]
    fn subqueries_are_bounded() {
        let work = "emails[type eq \"work\"].value pr";
        assert!(matches!(
            plan_users(Some(&chain(work, MAX_SQL_SUBQUERIES, " and "))),
            Plan::Sql(Some(_))
        ));
        // Past the bound: a scan, narrowed by the parts that need no subquery.
        let many = chain(work, MAX_SQL_SUBQUERIES + 1, " and ");
        assert_eq!(plan_users(Some(&many)), Plan::Scan(None));
        let narrowed = parse(&format!(
            "userName eq \"a\" and ({})",
            vec![work; 40].join(" and ")
        ))
        .unwrap();
        assert_eq!(
            plan_users(Some(&narrowed)),
            Plan::Scan(Some(UserPredicate::UserName(StrOp::Eq, "a".into())))
        );
        let mixed = parse(&format!(
            "nickName pr and ({})",
            vec![work; 40].join(" or ")
        ))
        .unwrap();
        assert_eq!(plan_users(Some(&mixed)), Plan::Scan(None));
        let members = chain("members.value eq \"x\"", MAX_SQL_SUBQUERIES + 1, " or ");
        assert_eq!(plan_groups(Some(&members)), Plan::Scan(None));
        let members = chain("members.value eq \"x\"", 3, " or ");
        assert!(matches!(plan_groups(Some(&members)), Plan::Sql(Some(_))));
    }
}
