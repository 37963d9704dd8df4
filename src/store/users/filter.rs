//! The SQL form of a user filter: a [`UserPredicate`] as a boxed diesel predicate on the
//! users table, exact email lookups first resolved to the ids they find.

use diesel::prelude::*;

use super::super::schema::{user_emails, users};
use super::super::sql::like_pattern;
use super::super::{DbConn, StoreError};
use super::Backend;

/// String comparison operators that SQL runs on lower-cased or exact columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrOp {
    Eq,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// Ordered comparison on an integer column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumOp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A filter over users that runs entirely in SQL. String values of case-insensitive
/// attributes are already lower-cased by the caller.
#[derive(Debug, Clone, PartialEq)]
pub enum UserPredicate {
    And(Box<UserPredicate>, Box<UserPredicate>),
    Or(Box<UserPredicate>, Box<UserPredicate>),
    Not(Box<UserPredicate>),
    Id(StrOp, String),
    UserName(StrOp, String),
    ExternalId(StrOp, String),
    ExternalIdPresent,
    DisplayName(StrOp, String),
    DisplayNamePresent,
    /// An email (optionally of a given lower-cased type) compares to the value.
    Email {
        email_type: Option<String>,
        op: StrOp,
        value: String,
    },
    /// The user has at least one email (of the type).
    EmailPresent {
        email_type: Option<String>,
    },
    Active(bool),
    Created(NumOp, i64),
    LastModified(NumOp, i64),
    /// Always true (`id pr`, `userName pr`).
    True,
    /// The user id is one of these (an email lookup already resolved to ids).
    IdIn(Vec<String>),
}

impl UserPredicate {
    /// Whether the filter pins its users by an indexed key (`id`, `userName`, `externalId` or
    /// an email, with `eq`), as Entra's matching queries do: a few index probes, never a scan.
    pub fn is_point(&self) -> bool {
        use UserPredicate as P;
        match self {
            P::Id(StrOp::Eq, _) | P::UserName(StrOp::Eq, _) | P::ExternalId(StrOp::Eq, _) => true,
            P::Email { op: StrOp::Eq, .. } => true,
            P::And(a, b) => a.is_point() || b.is_point(),
            P::Or(a, b) => a.is_point() && b.is_point(),
            _ => false,
        }
    }
}

type BoxedPred =
    Box<dyn BoxableExpression<users::table, Backend, SqlType = diesel::sql_types::Bool>>;

fn email_subquery(
    tenant_id: &str,
    email_type: Option<&str>,
    cond: Option<(StrOp, &str)>,
) -> BoxedPred {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    // SQL text with binds: diesel's MultiBackend cannot nest a boxed subselect.
    const PREFIX: &str =
        "users.id IN (SELECT user_emails.user_id FROM user_emails WHERE user_emails.tenant_id = ";
    let tenant = tenant_id.to_string();
    let Some((op, v)) = cond else {
        return match email_type {
            Some(t) => Box::new(
                sql::<Bool>(PREFIX)
                    .bind::<Text, _>(tenant)
                    .sql(" AND user_emails.email_type = ")
                    .bind::<Text, _>(t.to_string())
                    .sql(")"),
            ),
            None => Box::new(sql::<Bool>(PREFIX).bind::<Text, _>(tenant).sql(")")),
        };
    };
    let (compare, arg, suffix) = match op {
        StrOp::Eq => (" AND user_emails.value_lower = ", v.to_string(), ")"),
        StrOp::Gt => (" AND user_emails.value_lower > ", v.to_string(), ")"),
        StrOp::Ge => (" AND user_emails.value_lower >= ", v.to_string(), ")"),
        StrOp::Lt => (" AND user_emails.value_lower < ", v.to_string(), ")"),
        StrOp::Le => (" AND user_emails.value_lower <= ", v.to_string(), ")"),
        op => (
            " AND user_emails.value_lower LIKE ",
            like_pattern(op, v),
            " ESCAPE '\\')",
        ),
    };
    match email_type {
        Some(t) => Box::new(
            sql::<Bool>(PREFIX)
                .bind::<Text, _>(tenant)
                .sql(" AND user_emails.email_type = ")
                .bind::<Text, _>(t.to_string())
                .sql(compare)
                .bind::<Text, _>(arg)
                .sql(suffix),
        ),
        None => Box::new(
            sql::<Bool>(PREFIX)
                .bind::<Text, _>(tenant)
                .sql(compare)
                .bind::<Text, _>(arg)
                .sql(suffix),
        ),
    }
}

pub(super) fn to_sql(tenant_id: &str, p: &UserPredicate) -> BoxedPred {
    use UserPredicate as P;
    match p {
        P::And(a, b) => Box::new(to_sql(tenant_id, a).and(to_sql(tenant_id, b))),
        P::Or(a, b) => Box::new(to_sql(tenant_id, a).or(to_sql(tenant_id, b))),
        P::Not(a) => Box::new(diesel::dsl::not(to_sql(tenant_id, a))),
        P::Id(op, v) => str_cmp!(users::id, *op, v.clone()),
        P::UserName(op, v) => str_cmp!(users::user_name_lower, *op, v.clone()),
        // NULL columns must make the comparison false, not NULL, so `not (…)` stays correct.
        P::ExternalId(op, v) => Box::new(users::external_id.is_not_null().and(str_cmp!(
            users::external_id.assume_not_null(),
            *op,
            v.clone()
        ))),
        P::ExternalIdPresent => Box::new(users::external_id.is_not_null()),
        P::DisplayName(op, v) => Box::new(users::display_name_lower.is_not_null().and(str_cmp!(
            users::display_name_lower.assume_not_null(),
            *op,
            v.clone()
        ))),
        P::DisplayNamePresent => Box::new(users::display_name_lower.is_not_null()),
        P::Email {
            email_type,
            op,
            value,
        } => email_subquery(tenant_id, email_type.as_deref(), Some((*op, value))),
        P::EmailPresent { email_type } => email_subquery(tenant_id, email_type.as_deref(), None),
        P::Active(b) => Box::new(users::active.eq(*b)),
        P::Created(op, v) => num_cmp!(users::created_at, *op, *v),
        P::LastModified(op, v) => num_cmp!(users::updated_at, *op, *v),
        P::True => Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 1")),
        P::IdIn(ids) => Box::new(users::id.eq_any(ids.clone())),
    }
}

/// Most ids an email lookup is turned into before the query (beyond, a subquery is used).
pub(super) const MAX_RESOLVED_IDS: usize = 1_000;

/// Replace exact email lookups by the ids they find. The match query Entra sends
/// (`emails[type eq "work"].value eq "…"`) then reads one index and a primary key on any
/// backend, whatever the planner would have guessed for `id IN (subquery)`.
pub(super) fn resolve_emails(
    conn: &mut DbConn,
    tenant_id: &str,
    p: &UserPredicate,
) -> Result<UserPredicate, StoreError> {
    use UserPredicate as P;
    Ok(match p {
        P::And(a, b) => P::And(
            Box::new(resolve_emails(conn, tenant_id, a)?),
            Box::new(resolve_emails(conn, tenant_id, b)?),
        ),
        P::Or(a, b) => P::Or(
            Box::new(resolve_emails(conn, tenant_id, a)?),
            Box::new(resolve_emails(conn, tenant_id, b)?),
        ),
        P::Not(a) => P::Not(Box::new(resolve_emails(conn, tenant_id, a)?)),
        P::Email {
            email_type,
            op: StrOp::Eq,
            value,
        } => {
            let limit = i64::try_from(MAX_RESOLVED_IDS).unwrap_or(i64::MAX) + 1;
            let ids: Vec<String> = match email_type {
                Some(t) => on_backend!(conn, |c| user_emails::table
                    .filter(user_emails::tenant_id.eq(tenant_id))
                    .filter(user_emails::value_lower.eq(value))
                    .filter(user_emails::email_type.eq(t))
                    .select(user_emails::user_id)
                    .limit(limit)
                    .load(c))?,
                None => on_backend!(conn, |c| user_emails::table
                    .filter(user_emails::tenant_id.eq(tenant_id))
                    .filter(user_emails::value_lower.eq(value))
                    .select(user_emails::user_id)
                    .limit(limit)
                    .load(c))?,
            };
            if ids.len() > MAX_RESOLVED_IDS {
                p.clone()
            } else {
                P::IdIn(ids)
            }
        }
        other => other.clone(),
    })
}
