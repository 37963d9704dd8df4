//! SQL helpers of the table modules: LIKE patterns, and the macros that turn a comparison
//! into a boxed predicate or run a query on either backend's concrete connection. Declared
//! first in `store` (`#[macro_use]`), so every table module may use the macros.

/// A LIKE pattern for `co`, `sw` and `ew` with the value's own `%`, `_` and `\\` escaped
/// (the queries say `ESCAPE '\\'`).
pub(crate) fn like_pattern(op: super::users::StrOp, value: &str) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    match op {
        super::users::StrOp::Co => format!("%{escaped}%"),
        super::users::StrOp::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

/// A string comparison on a column as a boxed SQL predicate of the caller's table (the
/// caller's `BoxedPred` alias names the table).
macro_rules! str_cmp {
    ($col:expr, $op:expr, $v:expr) => {{
        let v: String = $v;
        let e: BoxedPred = match $op {
            StrOp::Eq => Box::new($col.eq(v)),
            StrOp::Gt => Box::new($col.gt(v)),
            StrOp::Ge => Box::new($col.ge(v)),
            StrOp::Lt => Box::new($col.lt(v)),
            StrOp::Le => Box::new($col.le(v)),
            op => Box::new(
                $col.like($crate::store::sql::like_pattern(op, &v))
                    .escape('\\'),
            ),
        };
        e
    }};
}

/// An integer comparison on a column as a boxed SQL predicate of the caller's table.
macro_rules! num_cmp {
    ($col:expr, $op:expr, $v:expr) => {{
        let v: i64 = $v;
        let e: BoxedPred = match $op {
            NumOp::Eq => Box::new($col.eq(v)),
            NumOp::Gt => Box::new($col.gt(v)),
            NumOp::Ge => Box::new($col.ge(v)),
            NumOp::Lt => Box::new($col.lt(v)),
            NumOp::Le => Box::new($col.le(v)),
        };
        e
    }};
}

/// Run a query written once on the concrete connection of either backend. Its prepared
/// statement is then cached by type, and diesel's multi-backend layer, which walks and
/// serialises every query again before running it, is skipped: for the per-request reads.
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::store::DbConn::Sqlite($c) => $body,
            $crate::store::DbConn::Postgres($c) => $body,
        }
    };
}
