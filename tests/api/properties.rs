//! Property tests of the pure SCIM core (the filter and path parsers, PATCH application and
//! resource validation): on any input they answer Ok or a 4xx `ScimError`, never panic.
//!
//! cargo-fuzz needs a nightly toolchain that this project's machines cannot fetch, so these
//! proptest runs are the fuzzers. Failures proptest finds are kept in
//! `tests/api/properties.proptest-regressions` (the corpus) and replayed first on every run.
//! Longer runs: `PROPTEST_CASES=200000 cargo test --release --test api properties::`.
//!
//! They need no database: each runs once. Each case takes a shared turn on the machine, so
//! that none runs beside a test that has it alone.

use proptest::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{Machine, Turn};
use scimd::scim::schema::{CustomField, FieldType, Schemas};
use scimd::scim::{filter, patch, path};

/// Text that looks like SCIM filters: grammar pieces, quotes, brackets and noise.
fn filterish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("userName".to_string()),
        Just("emails".to_string()),
        Just("emails[type eq \"work\"]".to_string()),
        Just(".value".to_string()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department".to_string()),
        Just(" eq ".to_string()),
        Just(" ne ".to_string()),
        Just(" co ".to_string()),
        Just(" sw ".to_string()),
        Just(" gt ".to_string()),
        Just(" pr".to_string()),
        Just(" and ".to_string()),
        Just(" or ".to_string()),
        Just("not ".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just("\"a@b.com\"".to_string()),
        Just("\"\\\"\\\\\\u00e9\"".to_string()),
        Just("true".to_string()),
        Just("null".to_string()),
        Just("42".to_string()),
        "\\PC{0,6}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Arbitrary JSON up to a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("True"),
            Just("False"),
            Just("work"),
            Just("a@b.com"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("value".to_string()),
                    Just("type".to_string()),
                    Just("primary".to_string()),
                    Just("userName".to_string()),
                    Just("emails".to_string()),
                    Just("name".to_string()),
                    Just("givenName".to_string()),
                    Just("active".to_string()),
                    Just("members".to_string()),
                    Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_string()),
                    Just("manager".to_string()),
                    "\\PC{0,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn patch_paths() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("emails[type eq \"work\"].value".to_string()),
        Just("addresses[type eq \"work\"].country".to_string()),
        Just("name.familyName".to_string()),
        Just("active".to_string()),
        Just("members".to_string()),
        Just("members[value eq \"x\"]".to_string()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_string()),
        Just(
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:postalCode"
                .to_string()
        ),
        filterish(),
    ]
}

fn custom() -> Vec<CustomField> {
    vec![CustomField {
        name: "postalCode".into(),
        field_type: FieldType::String,
        multi_valued: false,
    }]
}

fn client_error(e: &scimd::scim::error::ScimError) -> bool {
    e.status.is_client_error()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn filter_parser_answers_ok_or_400(s in filterish()) {
        let _turn = Turn::take(Machine::Shared);
        match filter::parse(&s) {
            Ok(f) => {
                let user = json!({"userName": "a@b.com", "emails": [{"type": "work", "value": "a@b.com"}]});
                let _ = filter::matches(&f, &user, &|_| false);
            }
            Err(e) => prop_assert!(client_error(&e), "{e:?}"),
        }
    }

    #[test]
    fn path_parsers_answer_ok_or_400(s in patch_paths()) {
        let _turn = Turn::take(Machine::Shared);
        if let Err(e) = path::parse_patch_path(&s) { prop_assert!(client_error(&e)); }
        if let Err(e) = path::AttrPath::parse(&s) { prop_assert!(client_error(&e)); }
    }

    #[test]
    fn patch_and_validation_answer_ok_or_400(
        ops in prop::collection::vec((prop_oneof![Just("add"), Just("Replace"), Just("remove"), Just("bogus")], prop::option::of(patch_paths()), prop::option::of(json_value())), 0..8),
        stored in json_value(),
    ) {
        let _turn = Turn::take(Machine::Shared);
        let schemas = Schemas::load().expect("schemas");
        let operations: Vec<Value> = ops
            .into_iter()
            .map(|(op, p, v)| {
                let mut o = json!({"op": op});
                if let Some(p) = p { o["path"] = json!(p); }
                if let Some(v) = v { o["value"] = v; }
                o
            })
            .collect();
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations});
        let base = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@b.com",
                          "emails": [{"type": "work", "value": "a@b.com"}], "extra": stored.clone()});
        match patch::parse_patch_request(&body) {
            Ok(parsed) => {
                match patch::apply_user_patch(&base, &parsed, &schemas, &custom(), &scimd::scim::work::Work::new(patch::PATCH_WORK)) {
                    Ok(out) => { if let Err(e) = schemas.validate_user(out, &custom()) { prop_assert!(client_error(&e)); } }
                    Err(e) => prop_assert!(client_error(&e), "{e:?}"),
                }
                let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "g"});
                if let Err(e) = patch::apply_group_patch(&group, &parsed, &schemas, &scimd::scim::work::Work::new(patch::PATCH_WORK)) { prop_assert!(client_error(&e)); }
            }
            Err(e) => prop_assert!(client_error(&e), "{e:?}"),
        }
        if let Err(e) = schemas.validate_user(stored.clone(), &custom()) { prop_assert!(client_error(&e)); }
        if let Err(e) = schemas.validate_group(stored) { prop_assert!(client_error(&e)); }
    }
}
