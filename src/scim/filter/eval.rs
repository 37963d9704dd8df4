//! Filter evaluation: whether a JSON resource held in memory matches a [`Filter`], with SCIM's
//! rules for multi-valued and complex attributes, value paths, `pr`, `ne` and case-exactness.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};

use super::{CompareOp, Filter};
use crate::scim::path::{get_ci, AttrPath};
use crate::scim::work::Work;

/// Evaluates `f` against `resource`. `case_exact(attr)` tells whether string comparisons on that
/// attribute are case-sensitive; inside a value path it receives the full path, e.g.
/// `emails.type` for `emails[type eq "work"]`.
pub fn matches(f: &Filter, resource: &Value, case_exact: &dyn Fn(&AttrPath) -> bool) -> bool {
    eval(f, resource, None, &Ctx::new(case_exact, &Work::unlimited()))
}

/// [`matches`], counting each comparison (and the bytes it compares) against `work`: once the
/// budget is spent the evaluation stops early with an answer that means nothing, so the caller
/// must check [`Work::is_spent`] before using it.
pub fn matches_within(
    f: &Filter,
    resource: &Value,
    case_exact: &dyn Fn(&AttrPath) -> bool,
    work: &Work,
) -> bool {
    eval(f, resource, None, &Ctx::new(case_exact, work))
}

/// What every step of an evaluation needs: the schema's case rule and the budget.
struct Ctx<'a> {
    case_exact: &'a dyn Fn(&AttrPath) -> bool,
    work: &'a Work,
}

impl<'a> Ctx<'a> {
    fn new(case_exact: &'a dyn Fn(&AttrPath) -> bool, work: &'a Work) -> Ctx<'a> {
        Ctx { case_exact, work }
    }
}

/// `parent` is the multi-valued attribute whose element `node` is, inside a value path: attribute
/// names are then relative to the element.
fn eval(f: &Filter, node: &Value, parent: Option<&AttrPath>, ce: &Ctx) -> bool {
    // A spent budget ends the evaluation: the caller discards the answer.
    if ce.work.is_spent() {
        return false;
    }
    match f {
        Filter::And(a, b) => eval(a, node, parent, ce) && eval(b, node, parent, ce),
        Filter::Or(a, b) => eval(a, node, parent, ce) || eval(b, node, parent, ce),
        Filter::Not(a) => !eval(a, node, parent, ce),
        Filter::Present(attr) => {
            ce.work.charge(1);
            values_at(node, attr, parent.is_some())
                .into_iter()
                .any(is_present)
        }
        Filter::Compare { attr, op, value } => {
            let exact = (ce.case_exact)(&full_path(parent, attr));
            let scalars = values_at(node, attr, parent.is_some())
                .into_iter()
                .filter_map(scalar_of);
            let work = ce.work;
            match op {
                // `ne` is the negation of `eq`, so a missing attribute is "not equal" and a
                // multi-valued one is "not equal" only when no element is equal.
                CompareOp::Ne => !eq_any(scalars, value, exact, work),
                CompareOp::Eq => eq_any(scalars, value, exact, work),
                _ => scalars
                    .into_iter()
                    .any(|c| compare(c, *op, value, exact, work)),
            }
        }
        Filter::ValuePath { attr, filter } => {
            let full = full_path(parent, attr);
            values_at(node, attr, parent.is_some())
                .into_iter()
                .any(|elem| match elem {
                    Value::Object(_) => eval(filter, elem, Some(&full), ce),
                    Value::Null => false,
                    // A multi-valued attribute of simple values (roles: ["a"]): `value` names the
                    // element itself, as in `roles[value eq "a"]`.
                    simple => {
                        let wrapped = serde_json::json!({ "value": simple });
                        eval(filter, &wrapped, Some(&full), ce)
                    }
                })
        }
    }
}

/// The path the caller's schema knows: `emails.type` for `type` inside `emails[…]`.
fn full_path<'a>(parent: Option<&AttrPath>, attr: &'a AttrPath) -> Cow<'a, AttrPath> {
    match parent {
        Some(p) => Cow::Owned(AttrPath {
            urn: p.urn.clone(),
            name: p.name.clone(),
            sub: Some(attr.name.clone()),
        }),
        None => Cow::Borrowed(attr),
    }
}

/// The values `attr` designates in `node`, with multi-valued attributes flattened into their
/// elements. `relative`: `node` is an element of a value path, so URNs do not apply.
fn values_at<'v>(node: &'v Value, attr: &AttrPath, relative: bool) -> Vec<&'v Value> {
    let container = if relative {
        Some(node)
    } else {
        attr.container(node)
    };
    let Some(top) = container.and_then(|c| get_ci(c, &attr.name)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |v: &'v Value| match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    };
    match (&attr.sub, top) {
        (None, v) => push(v),
        (Some(sub), Value::Array(items)) => {
            items.iter().filter_map(|e| get_ci(e, sub)).for_each(push)
        }
        (Some(sub), v) => {
            if let Some(s) = get_ci(v, sub) {
                push(s);
            }
        }
    }
    out
}

/// The simple value to compare: a complex value compares through its `value` sub-attribute
/// (`emails eq "x"` means `emails.value eq "x"`, `manager eq "id"` means `manager.value`).
fn scalar_of(v: &Value) -> Option<&Value> {
    match v {
        Value::Null | Value::Array(_) => None,
        Value::Object(_) => get_ci(v, "value")
            .filter(|s| !matches!(s, Value::Null | Value::Array(_) | Value::Object(_))),
        other => Some(other),
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `eq` over the candidates; `eq null` holds when the attribute has no value at all.
fn eq_any<'v>(
    mut scalars: impl Iterator<Item = &'v Value>,
    value: &Value,
    exact: bool,
    work: &Work,
) -> bool {
    if value.is_null() {
        work.charge(1);
        return scalars.next().is_none();
    }
    scalars.any(|c| compare(c, CompareOp::Eq, value, exact, work))
}

/// One comparison, counted against `work` by the bytes it may read (strings are lower-cased
/// whole unless case-exact).
fn compare(c: &Value, op: CompareOp, value: &Value, exact: bool, work: &Work) -> bool {
    let bytes = match (c, value) {
        (Value::String(a), Value::String(b)) => a.len() + b.len(),
        _ => 0,
    };
    if !work.charge_bytes(bytes) {
        return false;
    }
    match (c, value) {
        (Value::String(a), Value::String(b)) => {
            let (a, b) = if exact {
                (Cow::Borrowed(a.as_str()), Cow::Borrowed(b.as_str()))
            } else {
                (Cow::Owned(a.to_lowercase()), Cow::Owned(b.to_lowercase()))
            };
            match op {
                CompareOp::Co => a.contains(b.as_ref()),
                CompareOp::Sw => a.starts_with(b.as_ref()),
                CompareOp::Ew => a.ends_with(b.as_ref()),
                _ => ordering_satisfies(op, a.cmp(&b)),
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
                && number_cmp(a, b).is_some_and(|o| ordering_satisfies(op, o))
        }
        (Value::Bool(a), Value::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

fn ordering_satisfies(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// Integers compare exactly; anything else through f64.
fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::*;
    use serde_json::json;
    use std::cell::RefCell;

    // ----- evaluation -----

    #[test]
    fn eval_entra_filters() {
        let u = user();
        assert!(m("userName eq \"bjensen@example.com\"", &u));
        assert!(!m(
            "userName eq \"2819c223-7f76-453a-919d-413861904646\"",
            &u
        ));
        assert!(m("externalId eq \"701984\"", &u));
        assert!(m(
            "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
            &u
        ));
        assert!(m("id eq \"2819c223-7f76-453a-919d-413861904646\"", &u));
        let group = json!({"id": "g", "displayName": "Sales", "members": [{"value": "2819c223"}]});
        assert!(m("displayName eq \"Sales\"", &group));
        assert!(m("displayName eq \"sales\"", &group));
        assert!(m("members[value eq \"2819c223\"]", &group));
        assert!(!m("members[value eq \"other\"]", &group));
        assert!(m(
            "displayName eq \"Sales\" and externalId eq \"x\" or members.value eq \"2819c223\"",
            &group
        ));
    }

    #[test]
    fn eval_value_path_requires_same_element() {
        let u = user();
        assert!(!m(
            "emails[type eq \"work\"].value eq \"babs@jensen.org\"",
            &u
        ));
        assert!(m(
            "emails[type eq \"home\"].value eq \"babs@jensen.org\"",
            &u
        ));
        assert!(m(
            "emails[type eq \"work\" and value co \"@example.com\"]",
            &u
        ));
        // Without a value path, each comparison may match a different element (RFC semantics).
        assert!(m(
            "emails.type eq \"work\" and emails.value eq \"babs@jensen.org\"",
            &u
        ));
        assert!(m("emails[type eq \"work\"].primary eq true", &u));
        assert!(!m("emails[type eq \"home\"].primary pr", &u));
        assert!(m(
            "phoneNumbers[type eq \"mobile\"].value eq \"555-555-8377\"",
            &u
        ));
        assert!(m("addresses[type eq \"work\"].country eq \"us\"", &u));
        assert!(m("name[givenName eq \"Barbara\"]", &u));
        assert!(!m("nope[value eq \"x\"]", &u));
    }

    #[test]
    fn eval_multi_valued_any_element() {
        let u = user();
        assert!(m("emails.value eq \"babs@jensen.org\"", &u));
        assert!(m("emails eq \"babs@jensen.org\"", &u));
        assert!(m("emails co \"example.com\"", &u));
        assert!(m("roles eq \"admin\"", &u));
        assert!(m("roles eq \"user\"", &u));
        assert!(m("roles[value eq \"user\"]", &u));
        assert!(!m("roles eq \"guest\"", &u));
    }

    #[test]
    fn eval_case_sensitivity() {
        let u = user();
        assert!(m("userName eq \"BJENSEN@example.com\"", &u));
        assert!(m("USERNAME eq \"bjensen@example.com\"", &u));
        assert!(m("name.FAMILYNAME sw \"jen\"", &u));
        assert!(!m("id eq \"2819C223-7F76-453A-919D-413861904646\"", &u));
        let f = p("userName eq \"BJENSEN@example.com\"");
        assert!(!matches(&f, &u, &|_| true));
        assert!(matches(&f, &u, &|_| false));
    }

    #[test]
    fn eval_case_exact_receives_full_paths() {
        let seen = RefCell::new(Vec::new());
        let f = p(&format!(
            "emails[type eq \"work\"].value eq \"x\" or {ENT}:department eq \"y\""
        ));
        matches(&f, &user(), &|a: &AttrPath| {
            seen.borrow_mut().push(a.to_string());
            false
        });
        let seen = seen.into_inner();
        assert!(seen.contains(&"emails.type".to_string()), "{seen:?}");
        assert!(seen.contains(&"emails.value".to_string()), "{seen:?}");
        assert!(seen.contains(&format!("{ENT}:department")), "{seen:?}");
    }

    #[test]
    fn eval_urn_qualified() {
        let u = user();
        assert!(m(&format!("{ENT}:department eq \"Tour Operations\""), &u));
        assert!(m(
            &format!("{}:DEPARTMENT eq \"tour operations\"", ENT.to_uppercase()),
            &u
        ));
        assert!(m(
            &format!("{ENT}:manager eq \"26118915-6090-4610-87e4-49d8ca9f808d\""),
            &u
        ));
        assert!(m(&format!("{ENT}:manager.displayName co \"smith\""), &u));
        assert!(m(&format!("{ENT}:manager.value pr"), &u));
        assert!(!m(&format!("{ENT}:costCenter pr"), &u));
        assert!(!m(
            &format!("{ENT}:userName eq \"bjensen@example.com\""),
            &u
        ));
        assert!(m(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"bjensen\"",
            &u
        ));
        assert!(!m(
            "urn:ietf:params:scim:schemas:extension:Other:2.0:User:department pr",
            &u
        ));
        assert!(m(
            "schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\"",
            &u
        ));
    }

    #[test]
    fn eval_present() {
        let u = user();
        assert!(m("title pr", &u));
        assert!(m("name pr", &u));
        assert!(m("emails pr", &u));
        assert!(m("emails.value pr", &u));
        assert!(m("active pr", &u));
        assert!(!m("nickName pr", &u), "empty string is not present");
        assert!(!m("x509Certificates pr", &u), "empty array is not present");
        assert!(!m("missing pr", &u));
        assert!(!m("name.middleName pr", &u));
        assert!(!m("a pr", &json!({"a": null})));
        assert!(!m("a pr", &json!({"a": {}})));
    }

    #[test]
    fn eval_ne_and_null() {
        let u = user();
        assert!(m("userName ne \"someone\"", &u));
        assert!(!m("userName ne \"BJENSEN@example.com\"", &u));
        assert!(
            m("missing ne \"x\"", &u),
            "ne on a missing attribute is true"
        );
        assert!(
            !m("emails.value ne \"babs@jensen.org\"", &u),
            "some element is equal"
        );
        assert!(m("missing eq null", &u));
        assert!(!m("title eq null", &u));
        assert!(m("title ne null", &u));
        assert!(m("a eq null", &json!({"a": null})));
        assert!(!m("missing eq \"x\"", &u));
    }

    #[test]
    fn eval_ordering() {
        let u = user();
        assert!(m("meta.lastModified gt \"2011-05-13T04:42:33Z\"", &u));
        assert!(!m("meta.lastModified gt \"2011-05-13T04:42:34Z\"", &u));
        assert!(m("meta.lastModified ge \"2011-05-13T04:42:34Z\"", &u));
        assert!(m("meta.lastModified lt \"2012-01-01T00:00:00Z\"", &u));
        assert!(m("meta.lastModified le \"2011-05-13T04:42:34Z\"", &u));
        assert!(!m("meta.lastModified lt \"2011-05-13T04:42:34Z\"", &u));
        assert!(m("loginCount gt 41", &u));
        assert!(m("loginCount ge 42", &u));
        assert!(!m("loginCount lt 42", &u));
        assert!(m("loginCount le 42", &u));
        assert!(m("loginCount lt 42.5", &u));
        assert!(m("loginCount eq 42.0", &u));
        assert!(m("n gt -1", &json!({"n": 18446744073709551615u64})));
        assert!(m(
            "n eq 18446744073709551615",
            &json!({"n": 18446744073709551615u64})
        ));
        assert!(
            m("displayName gt \"babs\"", &u),
            "case-insensitive ordering"
        );
        assert!(!m("active gt false", &u), "booleans have no order");
    }

    #[test]
    fn eval_substring_ops() {
        let u = user();
        assert!(m("userName co \"JENSEN\"", &u));
        assert!(m("userName sw \"bjensen@\"", &u));
        assert!(m("userName ew \".COM\"", &u));
        assert!(!m("userName ew \"example\"", &u));
        assert!(m("userName co \"\"", &u));
        assert!(!m("loginCount co 4", &u), "co is for strings");
    }

    #[test]
    fn eval_type_mismatch_is_false() {
        let u = user();
        assert!(!m("loginCount eq \"42\"", &u));
        assert!(!m("userName gt 5", &u));
        assert!(m("active eq true", &u));
        assert!(!m("active eq \"true\"", &u));
        assert!(m("active ne false", &u));
    }

    #[test]
    fn eval_logic() {
        let u = user();
        assert!(m("title pr and userName sw \"b\"", &u));
        assert!(!m("title pr and userName sw \"x\"", &u));
        assert!(m("missing pr or title pr", &u));
        assert!(m("not (missing pr)", &u));
        assert!(!m("not (title pr)", &u));
        // and before or: true or (false and false)
        assert!(m("title pr or missing pr and missing pr", &u));
        // (true or false) and false
        assert!(!m("(title pr or missing pr) and missing pr", &u));
    }

    #[test]
    fn eval_non_object_resources() {
        for r in [json!(null), json!([]), json!("x"), json!(1)] {
            assert!(!m("a pr", &r));
            assert!(m("a ne 1", &r));
        }
    }

    #[test]
    fn evaluation_within_a_budget_counts_and_stops() {
        let u = user();
        let parse = crate::scim::filter::parse;
        let f =
            parse("userName eq \"x\" or userName eq \"y\" or userName eq \"bjensen@example.com\"")
                .expect("parses");
        let ce = |_: &AttrPath| false;
        // Each comparison counts one unit and one per 32 bytes compared; the answer is the same.
        let work = Work::new(100);
        assert!(matches_within(&f, &u, &ce, &work));
        assert_eq!(
            work.spent(),
            4,
            "two short comparisons, and one of 38 bytes"
        );
        assert!(!work.is_spent());
        // A long literal costs by its length.
        let long = parse(&format!("userName eq \"{}\"", "x".repeat(3200))).expect("parses");
        let work = Work::new(1000);
        assert!(!matches_within(&long, &u, &ce, &work));
        assert_eq!(work.spent(), 101);
        // Past the budget the evaluation stops at once: five hundred terms cost a few units.
        let terms: Vec<String> = (0..500).map(|i| format!("userName eq \"n{i}\"")).collect();
        let wide = parse(&terms.join(" or ")).expect("parses");
        let work = Work::new(3);
        matches_within(&wide, &u, &ce, &work);
        assert!(work.is_spent());
        assert_eq!(
            work.spent(),
            4,
            "stopped at the first comparison past the budget"
        );
        // Without a budget, nothing changes.
        assert!(m("userName eq \"bjensen@example.com\"", &u));
    }
}
