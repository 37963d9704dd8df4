//! SCIM filters (RFC 7644 §3.4.2.2): the AST, and the public entry points that parse a filter
//! ([`parse`]) and evaluate one against a JSON resource ([`matches`]).
//!
//! ```text
//! FILTER    = attrExp / logExp / valuePath / *1"not" "(" FILTER ")"
//! valuePath = attrPath "[" valFilter "]"
//! attrExp   = (attrPath SP "pr") / (attrPath SP compareOp SP compValue)
//! logExp    = FILTER SP ("and" / "or") SP FILTER
//! ```
//!
//! Beyond the RFC, `emails[type eq "work"].value eq "x"` (sent by Entra ID) is accepted and read as
//! `emails[type eq "work" and value eq "x"]`: one element must satisfy both
//! ([`crate::scim::entra::value_path_comparison`]).
//!
//! The parser is a bounded recursive descent: input length, nesting depth and expression count
//! are capped so that a hostile filter cannot exhaust the stack or the CPU, and no input makes it
//! panic.
//!
//! - `lex.rs`: the tokenizer;
//! - `parse.rs`: the grammar, from tokens to the AST, with the caps;
//! - `eval.rs`: evaluation of an AST against a resource held in memory.

use std::fmt;

use serde_json::Value;

use crate::scim::path::AttrPath;

mod eval;
mod lex;
mod parse;
#[cfg(test)]
mod test_util;

pub use eval::{matches, matches_within};
pub(crate) use parse::parse_patch;
pub use parse::{parse, MAX_DEPTH, MAX_EXPRESSIONS, MAX_FILTER_LEN};

/// A parsed SCIM filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both sides match.
    And(Box<Filter>, Box<Filter>),
    /// Either side matches.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not match.
    Not(Box<Filter>),
    /// `attr op value`; `value` is a JSON string, number, boolean or null.
    Compare {
        /// The compared attribute.
        attr: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal compared against.
        value: Value,
    },
    /// `attr pr`: the attribute has a non-empty value.
    Present(AttrPath),
    /// `emails[type eq "work"]`: the inner filter's attributes are sub-attributes of `attr`
    /// (relative names), and one element of `attr` must satisfy the whole inner filter.
    ValuePath {
        /// The multi-valued (or complex) attribute whose elements are filtered.
        attr: AttrPath,
        /// The filter one element must satisfy, with names relative to `attr`.
        filter: Box<Filter>,
    },
}

/// A comparison operator of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `eq`: equal.
    Eq,
    /// `ne`: not equal (true when the attribute is missing).
    Ne,
    /// `co`: contains (strings).
    Co,
    /// `sw`: starts with (strings).
    Sw,
    /// `ew`: ends with (strings).
    Ew,
    /// `gt`: greater than (numbers, strings, datetimes).
    Gt,
    /// `ge`: greater than or equal.
    Ge,
    /// `lt`: less than.
    Lt,
    /// `le`: less than or equal.
    Le,
}

impl CompareOp {
    /// The operator named by `word`, ignoring case (`EQ`, `eq`, `Eq`).
    pub fn from_keyword(word: &str) -> Option<CompareOp> {
        const OPS: [(&str, CompareOp); 9] = [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ];
        OPS.iter()
            .find(|(kw, _)| kw.eq_ignore_ascii_case(word))
            .map(|(_, op)| *op)
    }

    /// The lower-case keyword, e.g. `eq`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }
}

impl fmt::Display for Filter {
    /// Renders SCIM filter syntax that parses back to an equivalent filter: chains of one
    /// operator are written flat, and parentheses appear only where `or` sits under `and`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Or(l, r) => write!(f, "{l} or {r}"),
            Filter::And(l, r) => {
                for (i, side) in [l, r].into_iter().enumerate() {
                    if i == 1 {
                        f.write_str(" and ")?;
                    }
                    if matches!(**side, Filter::Or(..)) {
                        write!(f, "({side})")?;
                    } else {
                        write!(f, "{side}")?;
                    }
                }
                Ok(())
            }
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::Compare { attr, op, value } => write!(f, "{attr} {} {value}", op.as_str()),
            Filter::Present(attr) => write!(f, "{attr} pr"),
            Filter::ValuePath { attr, filter } => write!(f, "{attr}[{filter}]"),
        }
    }
}
