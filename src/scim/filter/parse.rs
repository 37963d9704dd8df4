//! The filter grammar (RFC 7644 §3.4.2.2): a bounded recursive descent from tokens to the
//! [`Filter`] AST, with the caps on input length, nesting depth and expression count; also
//! the PATCH path parser, which shares it for value paths.

use std::fmt;

use serde_json::Value;

use super::lex::{error, lex, Mode, Tok, Token};
use super::{CompareOp, Filter};
use crate::scim::entra;
use crate::scim::error::ScimError;
use crate::scim::path::{self, AttrPath, PatchPath};

/// Longest filter (or PATCH path) accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 16 * 1024;
/// Deepest nesting of `(`, `not` and `[` accepted.
pub const MAX_DEPTH: usize = 64;
/// Most expressions (comparisons, `pr`, value paths, `and`, `or`, `not`) in one filter.
pub const MAX_EXPRESSIONS: usize = 1000;

/// Parses a filter; answers `invalidFilter` with a detail saying what is wrong and at which
/// (0-based character) position.
pub fn parse(s: &str) -> Result<Filter, ScimError> {
    let mut p = Parser::new(s, Mode::Filter)?;
    if p.peek().tok == Tok::End {
        return Err(p.err(0, "the filter is empty"));
    }
    let f = p.parse_or(false)?;
    p.expect_end()?;
    Ok(*f)
}

/// Parses a PATCH path (`attrPath` or `valuePath [subAttr]`); answers `invalidPath`.
/// Lives here because a value path's filter needs the filter parser.
pub(crate) fn parse_patch(s: &str) -> Result<PatchPath, ScimError> {
    let mut p = Parser::new(s, Mode::Path)?;
    if p.peek().tok == Tok::End {
        return Err(p.err(0, "the path is empty"));
    }
    let (word, pos) = match p.peek() {
        Token {
            tok: Tok::Word(w),
            pos,
        } => (w.clone(), *pos),
        other => {
            return Err(p.err(
                other.pos,
                format!("expected an attribute name but found {}", other.tok),
            ))
        }
    };
    p.advance();
    let attr = p.attr_path(&word, pos)?;
    let mut filter = None;
    let mut sub_attr = None;
    if p.peek().tok == Tok::LBracket {
        filter = Some(*p.bracket_filter(&attr, &word)?);
        if p.peek().tok == Tok::Dot {
            p.advance();
            sub_attr = Some(p.trailing_sub_attr()?);
        }
    }
    p.expect_end()?;
    Ok(PatchPath {
        attr,
        filter,
        sub_attr,
    })
}

static END: Token = Token {
    tok: Tok::End,
    pos: 0,
};

/// What the token at the start of an operand introduces.
enum Unary {
    Group,
    Not,
    Attr,
    Invalid,
}

struct Parser<'a> {
    src: &'a str,
    mode: Mode,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
    count: usize,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, mode: Mode) -> Result<Self, ScimError> {
        if src.len() > MAX_FILTER_LEN {
            let what = if mode == Mode::Filter {
                "filter"
            } else {
                "path"
            };
            return Err(error(
                src,
                mode,
                0,
                format!(
                    "the {what} is {} bytes long; at most {MAX_FILTER_LEN} are accepted",
                    src.len()
                ),
            ));
        }
        let toks = lex(src, mode)?;
        Ok(Parser {
            src,
            mode,
            toks,
            i: 0,
            depth: 0,
            count: 0,
        })
    }

    fn err(&self, pos: usize, msg: impl fmt::Display) -> ScimError {
        error(self.src, self.mode, pos, msg)
    }

    fn peek(&self) -> &Token {
        self.toks.get(self.i).unwrap_or(&END)
    }

    fn peek_at(&self, ahead: usize) -> &Token {
        self.toks.get(self.i + ahead).unwrap_or(&END)
    }

    fn advance(&mut self) {
        if self.peek().tok != Tok::End {
            self.i += 1;
        }
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn count_expression(&mut self, pos: usize) -> Result<(), ScimError> {
        self.count += 1;
        if self.count > MAX_EXPRESSIONS {
            return Err(self.err(
                pos,
                format!("too many expressions; at most {MAX_EXPRESSIONS} are accepted"),
            ));
        }
        Ok(())
    }

    fn enter(&mut self, pos: usize) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(
                pos,
                format!("nested too deeply; at most {MAX_DEPTH} levels of '(', 'not' and '[' are accepted"),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn expect_end(&self) -> Result<(), ScimError> {
        let t = self.peek();
        match (&t.tok, self.mode) {
            (Tok::End, _) => Ok(()),
            (Tok::RParen, _) => Err(self.err(t.pos, "unmatched ')'")),
            (Tok::RBracket, _) => Err(self.err(t.pos, "unmatched ']'")),
            (tok, Mode::Filter) => Err(self.err(
                t.pos,
                format!("expected 'and', 'or' or the end of the filter but found {tok}"),
            )),
            (tok, Mode::Path) => Err(self.err(t.pos, format!("unexpected {tok} after the path"))),
        }
    }

    fn parse_or(&mut self, in_value_path: bool) -> Result<Box<Filter>, ScimError> {
        let start = self.peek().pos;
        let mut items = Vec::with_capacity(1);
        items.push(self.parse_and(in_value_path)?);
        while self.peek_keyword("or") {
            let pos = self.peek().pos;
            self.advance();
            self.count_expression(pos)?;
            items.push(self.parse_and(in_value_path)?);
        }
        balance(items, Filter::Or).ok_or_else(|| self.empty_expression(start))
    }

    #[cold]
    #[inline(never)]
    fn empty_expression(&self, pos: usize) -> ScimError {
        self.err(pos, "empty expression")
    }

    fn parse_and(&mut self, in_value_path: bool) -> Result<Box<Filter>, ScimError> {
        let start = self.peek().pos;
        let mut items = Vec::with_capacity(1);
        items.push(self.parse_unary(in_value_path)?);
        while self.peek_keyword("and") {
            let pos = self.peek().pos;
            self.advance();
            self.count_expression(pos)?;
            items.push(self.parse_unary(in_value_path)?);
        }
        balance(items, Filter::And).ok_or_else(|| self.empty_expression(start))
    }

    // parse_or → parse_and → parse_unary is the only recursion on nesting depth, so these three
    // keep their frames small: error details are built in separate cold functions.
    fn parse_unary(&mut self, in_value_path: bool) -> Result<Box<Filter>, ScimError> {
        let pos = self.peek().pos;
        match self.unary_kind() {
            Unary::Group => {
                self.enter(pos)?;
                self.advance();
                let inner = self.parse_or(in_value_path)?;
                self.close(Tok::RParen, pos)?;
                self.leave();
                Ok(inner)
            }
            Unary::Not => {
                self.enter(pos)?;
                self.count_expression(pos)?;
                self.advance();
                if self.peek().tok == Tok::End {
                    return Err(self.not_without_operand());
                }
                // RFC 7644 wants `not (…)`; a bare `not expr` is accepted as well since its
                // meaning is unambiguous.
                let inner = self.parse_unary(in_value_path)?;
                self.leave();
                Ok(Box::new(Filter::Not(inner)))
            }
            Unary::Attr => self.parse_attr_expr(in_value_path),
            Unary::Invalid => Err(self.not_an_operand()),
        }
    }

    fn unary_kind(&self) -> Unary {
        match &self.peek().tok {
            Tok::LParen => Unary::Group,
            Tok::Word(w) if w.eq_ignore_ascii_case("not") && !self.used_as_attribute() => {
                Unary::Not
            }
            // `and`/`or` here are far more likely a doubled keyword than an attribute so named;
            // answering "expected an attribute" points at the real mistake.
            Tok::Word(w)
                if (w.eq_ignore_ascii_case("and") || w.eq_ignore_ascii_case("or"))
                    && !self.used_as_attribute() =>
            {
                Unary::Invalid
            }
            Tok::Word(_) => Unary::Attr,
            _ => Unary::Invalid,
        }
    }

    /// Consumes the `)` or `]` (`tok`) closing the bracket opened at byte `open`.
    fn close(&mut self, tok: Tok, open: usize) -> Result<(), ScimError> {
        if self.peek().tok != tok {
            return Err(self.unclosed(&tok, open));
        }
        self.advance();
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn unclosed(&self, tok: &Tok, open: usize) -> ScimError {
        let (close, open_ch) = if *tok == Tok::RParen {
            (')', '(')
        } else {
            (']', '[')
        };
        let found = self.peek();
        self.err(
            found.pos,
            format!(
                "expected '{close}' to close the '{open_ch}' at position {} but found {}",
                self.col(open),
                found.tok
            ),
        )
    }

    #[cold]
    #[inline(never)]
    fn not_without_operand(&self) -> ScimError {
        self.err(self.peek().pos, "expected '(' after 'not'")
    }

    #[cold]
    #[inline(never)]
    fn not_an_operand(&self) -> ScimError {
        let t = self.peek();
        self.err(
            t.pos,
            format!(
                "expected an attribute name, '(' or 'not' but found {}",
                t.tok
            ),
        )
    }

    /// Whether the current word (`not`, `and`, `or`) is an attribute name rather than a keyword:
    /// it is when followed by an operator, `pr` or `[`.
    fn used_as_attribute(&self) -> bool {
        match &self.peek_at(1).tok {
            Tok::Word(w) => CompareOp::from_keyword(w).is_some() || w.eq_ignore_ascii_case("pr"),
            Tok::LBracket => true,
            _ => false,
        }
    }

    fn col(&self, pos: usize) -> usize {
        self.src.get(..pos).map_or(pos, |p| p.chars().count())
    }

    fn attr_path(&self, word: &str, pos: usize) -> Result<AttrPath, ScimError> {
        path::parse_attr_path(word).map_err(|reason| {
            self.err(
                pos,
                format!(
                    "invalid attribute path \"{}\": {reason}",
                    path::snippet(word)
                ),
            )
        })
    }

    /// An expression starting with an attribute path (the current token is a word).
    fn parse_attr_expr(&mut self, in_value_path: bool) -> Result<Box<Filter>, ScimError> {
        let pos = self.peek().pos;
        let word = match &self.peek().tok {
            Tok::Word(w) => w.clone(),
            _ => return Err(self.not_an_operand()),
        };
        self.advance();
        let attr = self.attr_path(&word, pos)?;
        if self.peek().tok != Tok::LBracket {
            return self.parse_comparison(attr, &word).map(Box::new);
        }
        if in_value_path {
            return Err(self.err(
                self.peek().pos,
                "value filters cannot be nested: found '[' inside '[…]'",
            ));
        }
        self.count_expression(pos)?;
        let mut inner = self.bracket_filter(&attr, &word)?;
        if self.peek().tok == Tok::Dot {
            // Entra ID's `emails[type eq "work"].value eq "x"`: the same element must match both.
            self.advance();
            let sub_pos = self.peek().pos;
            let sub = self.trailing_sub_attr()?;
            self.count_expression(sub_pos)?;
            let cond = self.parse_comparison(AttrPath::new(sub.clone()), &sub)?;
            inner = entra::value_path_comparison(inner, cond);
        }
        Ok(Box::new(Filter::ValuePath {
            attr,
            filter: inner,
        }))
    }

    /// Parses `[valFilter]`, the current token being `[`.
    fn bracket_filter(&mut self, attr: &AttrPath, word: &str) -> Result<Box<Filter>, ScimError> {
        let open = self.peek().pos;
        if attr.sub.is_some() {
            return Err(self.err(
                open,
                format!(
                    "a value filter '[…]' must follow a multi-valued attribute, not the sub-attribute \"{}\"",
                    path::snippet(word)
                ),
            ));
        }
        self.enter(open)?;
        self.advance();
        let inner = self.parse_or(true)?;
        self.close(Tok::RBracket, open)?;
        self.leave();
        Ok(inner)
    }

    /// The sub-attribute after `].`.
    fn trailing_sub_attr(&mut self) -> Result<String, ScimError> {
        let t = self.peek().clone();
        let Tok::Word(w) = &t.tok else {
            return Err(self.err(
                t.pos,
                format!(
                    "expected a sub-attribute name after '.' but found {}",
                    t.tok
                ),
            ));
        };
        if w.contains('.') || w.contains(':') {
            return Err(self.err(
                t.pos,
                format!(
                    "invalid sub-attribute \"{}\" after ']': only one level of sub-attribute is allowed",
                    path::snippet(w)
                ),
            ));
        }
        path::check_name(w).map_err(|reason| self.err(t.pos, reason))?;
        self.advance();
        Ok(w.clone())
    }

    /// `pr` or `compareOp compValue` after the attribute path `attr` (spelled `word`).
    fn parse_comparison(&mut self, attr: AttrPath, word: &str) -> Result<Filter, ScimError> {
        let t = self.peek().clone();
        let op_word = match &t.tok {
            Tok::Word(w) => w.as_str(),
            _ => "",
        };
        if op_word.eq_ignore_ascii_case("pr") {
            self.advance();
            self.count_expression(t.pos)?;
            return Ok(Filter::Present(attr));
        }
        let Some(op) = CompareOp::from_keyword(op_word) else {
            return Err(self.err(
                t.pos,
                format!(
                    "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"{}\" but found {}",
                    path::snippet(word),
                    t.tok
                ),
            ));
        };
        self.advance();
        self.count_expression(t.pos)?;
        let v = self.peek().clone();
        let value = match &v.tok {
            Tok::Str(s) => Value::String(s.clone()),
            Tok::Num(n) => Value::Number(n.clone()),
            Tok::Word(w) if w.eq_ignore_ascii_case("true") => Value::Bool(true),
            Tok::Word(w) if w.eq_ignore_ascii_case("false") => Value::Bool(false),
            Tok::Word(w) if w.eq_ignore_ascii_case("null") => Value::Null,
            other => {
                let hint = if matches!(other, Tok::Word(_)) {
                    "; strings must be in double quotes"
                } else {
                    ""
                };
                return Err(self.err(
                    v.pos,
                    format!(
                        "expected a value (a string in double quotes, a number, true, false or null) after \"{}\" but found {other}{hint}",
                        op.as_str()
                    ),
                ));
            }
        };
        self.advance();
        Ok(Filter::Compare { attr, op, value })
    }
}

/// Joins a chain `a op b op c …` into a balanced tree. `and` and `or` are associative, so the
/// shape does not change the meaning, and a balanced tree keeps a 1000-term chain log₂(1000)
/// levels deep: every recursive walk of the AST (evaluation, drop, clone, Display, a caller's
/// SQL translation) then stays shallow even on small thread stacks.
// The items are already boxed by the parser and move into the tree as they are.
#[allow(clippy::vec_box)]
fn balance(
    mut items: Vec<Box<Filter>>,
    join: fn(Box<Filter>, Box<Filter>) -> Filter,
) -> Option<Box<Filter>> {
    if items.len() <= 1 {
        return items.pop();
    }
    let right = items.split_off(items.len() / 2);
    Some(Box::new(join(balance(items, join)?, balance(right, join)?)))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{matches, CompareOp};
    use super::*;
    use crate::scim::error::ScimType;
    use serde_json::json;

    // ----- grammar productions -----

    #[test]
    fn every_compare_op() {
        for (kw, op) in [
            ("eq", CompareOp::Eq),
            ("ne", CompareOp::Ne),
            ("co", CompareOp::Co),
            ("sw", CompareOp::Sw),
            ("ew", CompareOp::Ew),
            ("gt", CompareOp::Gt),
            ("ge", CompareOp::Ge),
            ("lt", CompareOp::Lt),
            ("le", CompareOp::Le),
        ] {
            assert_eq!(
                p(&format!("title {kw} \"x\"")),
                cmp("title", op, json!("x"))
            );
            assert_eq!(CompareOp::from_keyword(&kw.to_uppercase()), Some(op));
            assert_eq!(op.as_str(), kw);
        }
        assert_eq!(CompareOp::from_keyword("pr"), None);
    }

    #[test]
    fn present() {
        assert_eq!(p("title pr"), pr("title"));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(
            p("userName EQ \"a\" AND title Pr OR NOT (x Ne 1)"),
            or(
                and(eq("userName", "a"), pr("title")),
                not(cmp("x", CompareOp::Ne, json!(1)))
            )
        );
    }

    #[test]
    fn and_binds_tighter_than_or() {
        assert_eq!(
            p("a eq \"1\" or b eq \"2\" and c eq \"3\""),
            or(eq("a", "1"), and(eq("b", "2"), eq("c", "3")))
        );
        assert_eq!(
            p("a eq \"1\" and b eq \"2\" or c eq \"3\""),
            or(and(eq("a", "1"), eq("b", "2")), eq("c", "3"))
        );
    }

    #[test]
    fn not_binds_tighter_than_and() {
        assert_eq!(p("not (a pr) and b pr"), and(not(pr("a")), pr("b")));
    }

    #[test]
    fn parentheses_group() {
        assert_eq!(
            p("(a eq \"1\" or b eq \"2\") and c eq \"3\""),
            and(or(eq("a", "1"), eq("b", "2")), eq("c", "3"))
        );
        assert_eq!(p("((a pr))"), pr("a"));
    }

    #[test]
    fn chains_are_balanced() {
        assert_eq!(
            p("a pr and b pr and c pr"),
            and(pr("a"), and(pr("b"), pr("c")))
        );
        assert_eq!(
            p("a pr or b pr or c pr or d pr"),
            or(or(pr("a"), pr("b")), or(pr("c"), pr("d")))
        );
        // Association differs from the source's parentheses but renders (and means) the same.
        assert_eq!(
            p("(a pr or b pr) or c pr").to_string(),
            "a pr or b pr or c pr"
        );
    }

    /// Tree depth, to check that long chains stay shallow.
    fn depth(f: &Filter) -> usize {
        match f {
            Filter::And(l, r) | Filter::Or(l, r) => 1 + depth(l).max(depth(r)),
            Filter::Not(i) | Filter::ValuePath { filter: i, .. } => 1 + depth(i),
            Filter::Compare { .. } | Filter::Present(_) => 1,
        }
    }

    #[test]
    fn long_chains_stay_shallow() {
        let f = p(&vec!["a pr"; 500].join(" and "));
        assert_eq!(depth(&f), 10);
    }

    #[test]
    fn not_with_and_without_parentheses() {
        assert_eq!(p("not (a pr or b pr)"), not(or(pr("a"), pr("b"))));
        assert_eq!(p("not(a pr)"), not(pr("a")));
        // RFC syntax requires parentheses; the bare form is unambiguous so it is accepted.
        assert_eq!(p("not a pr"), not(pr("a")));
        assert_eq!(p("not not (a pr)"), not(not(pr("a"))));
    }

    #[test]
    fn keyword_named_attributes() {
        assert_eq!(p("not eq \"x\""), eq("not", "x"));
        assert_eq!(p("not pr"), pr("not"));
        assert_eq!(p("a pr and and pr"), and(pr("a"), pr("and")));
    }

    #[test]
    fn sub_attribute_and_urn_paths() {
        assert_eq!(p("name.familyName eq \"J\""), eq("name.familyName", "J"));
        assert_eq!(p("members.$ref pr"), pr("members.$ref"));
        let f = p(&format!("{ENT}:department eq \"Sales\""));
        assert_eq!(f, eq(&format!("{ENT}:department"), "Sales"));
        let Filter::Compare { attr: a, .. } = f else {
            panic!()
        };
        assert_eq!(a.urn.as_deref(), Some(ENT));
        assert_eq!(a.name, "department");
        let f = p(&format!("{ENT}:manager.value eq \"x\""));
        assert_eq!(f, eq(&format!("{ENT}:manager.value"), "x"));
    }

    #[test]
    fn value_path() {
        assert_eq!(
            p("emails[type eq \"work\" and value co \"@example.com\"]"),
            vp(
                "emails",
                and(
                    eq("type", "work"),
                    eq_op("value", CompareOp::Co, "@example.com")
                )
            )
        );
        assert_eq!(
            p("emails[not (type eq \"work\")]"),
            vp("emails", not(eq("type", "work")))
        );
    }

    #[test]
    fn entra_value_path_with_sub_attribute() {
        assert_eq!(
            p("emails[type eq \"work\"].value eq \"a@b.com\""),
            vp("emails", and(eq("type", "work"), eq("value", "a@b.com")))
        );
        assert_eq!(
            p("emails[type eq \"work\"].value pr"),
            vp("emails", and(eq("type", "work"), pr("value")))
        );
        assert_eq!(
            p("emails[type eq \"work\"].value eq \"a@b.com\" and userName eq \"u\""),
            and(
                vp("emails", and(eq("type", "work"), eq("value", "a@b.com"))),
                eq("userName", "u")
            )
        );
    }

    #[test]
    fn entra_exact_filters() {
        assert_eq!(
            p("userName eq \"2819c223-7f76-453a-919d-413861904646\""),
            eq("userName", "2819c223-7f76-453a-919d-413861904646")
        );
        assert_eq!(p("externalId eq \"x\""), eq("externalId", "x"));
        assert_eq!(p("displayName eq \"Sales\""), eq("displayName", "Sales"));
        assert_eq!(
            p("externalId eq \"x\" and userName eq \"y\""),
            and(eq("externalId", "x"), eq("userName", "y"))
        );
        assert_eq!(
            p("userName eq \"a\" or userName eq \"b\""),
            or(eq("userName", "a"), eq("userName", "b"))
        );
        assert_eq!(
            p("displayName eq \"Sales\" and externalId eq \"g1\""),
            and(eq("displayName", "Sales"), eq("externalId", "g1"))
        );
    }

    /// The examples of RFC 7644 §3.4.2.2 all parse and render back to the same AST.
    #[test]
    fn rfc_examples_parse_and_round_trip() {
        let examples = [
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"title pr"#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            r#"a pr or (b pr or c pr)"#,
            r#"a pr and (b pr and c pr)"#,
            r#"(a pr or b pr) and c pr"#,
            r#"a eq "q\"\\\u00e9\n" and b eq 1.5 and c ne null and d eq false"#,
        ];
        for s in examples {
            let f = p(s);
            let rendered = f.to_string();
            let again = p(&rendered);
            assert_eq!(again.to_string(), rendered, "{s}");
            assert_eq!(again, f, "{s} -> {rendered}");
        }
        assert_eq!(
            p(r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#).to_string(),
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#
        );
        assert_eq!(
            p(r#"emails[type eq "a" or type eq "b"].value eq "x""#).to_string(),
            r#"emails[(type eq "a" or type eq "b") and value eq "x"]"#
        );
    }

    // ----- error details -----

    #[test]
    fn error_missing_operator() {
        assert_eq!(
            err("userName foo \"x\""),
            "invalid filter at position 9: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"userName\" but found \"foo\""
        );
        assert_eq!(
            err("userName"),
            "invalid filter at position 8: expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) after \"userName\" but found the end of the input"
        );
        assert!(err("userName \"x\"").contains("but found the string \"x\""));
    }

    #[test]
    fn error_missing_value() {
        assert_eq!(
            err("userName eq"),
            "invalid filter at position 11: expected a value (a string in double quotes, a number, true, false or null) after \"eq\" but found the end of the input"
        );
        // Unquoted values are strings (Microsoft's SCIM validator sends them so).
        assert_eq!(
            parse("userName eq bjensen").unwrap(),
            eq_op("userName", CompareOp::Eq, "bjensen")
        );
        assert_eq!(
            parse("meta.Created gt 2015-10-10T14:38:21.8617979-07:00").unwrap(),
            Filter::Compare {
                attr: AttrPath::parse("meta.Created").unwrap(),
                op: CompareOp::Gt,
                value: json!("2015-10-10T14:38:21.8617979-07:00")
            }
        );
        assert_eq!(
            parse("emails[type eq work]").unwrap(),
            parse("emails[type eq \"work\"]").unwrap()
        );
        assert_eq!(
            parse("name.FamilyName eq Employee and (emails.Value co example.com or emails.Value co example.org)").unwrap(),
            parse("name.FamilyName eq \"Employee\" and (emails.Value co \"example.com\" or emails.Value co \"example.org\")").unwrap()
        );
        assert_eq!(
            parse("active eq True").unwrap(),
            parse("active eq true").unwrap()
        );
        assert!(
            err("userName eq bjensen extra").contains("position 20"),
            "{}",
            err("userName eq bjensen extra")
        );
        let d = err("userName eq 'bjensen'");
        assert!(
            d.contains("unexpected character '\\''") && d.contains("double quotes"),
            "{d}"
        );
    }

    #[test]
    fn error_structure() {
        assert_eq!(err(""), "invalid filter at position 0: the filter is empty");
        assert_eq!(
            err("   "),
            "invalid filter at position 0: the filter is empty"
        );
        assert_eq!(
            err("(userName pr"),
            "invalid filter at position 12: expected ')' to close the '(' at position 0 but found the end of the input"
        );
        assert_eq!(
            err("userName pr)"),
            "invalid filter at position 11: unmatched ')'"
        );
        assert_eq!(
            err("userName pr]"),
            "invalid filter at position 11: unmatched ']'"
        );
        assert_eq!(
            err("userName pr and"),
            "invalid filter at position 15: expected an attribute name, '(' or 'not' but found the end of the input"
        );
        assert_eq!(
            err("userName pr title pr"),
            "invalid filter at position 12: expected 'and', 'or' or the end of the filter but found \"title\""
        );
        assert_eq!(
            err("not"),
            "invalid filter at position 3: expected '(' after 'not'"
        );
        assert!(err("()").contains("expected an attribute name, '(' or 'not' but found ')'"));
        assert_eq!(
            err("a pr or or b pr"),
            "invalid filter at position 8: expected an attribute name, '(' or 'not' but found \"or\""
        );
        assert!(err("and b pr").contains("position 0"));
        assert!(err("a eq \"x\" & b pr").contains("unexpected character '&'"));
    }

    #[test]
    fn error_attribute_paths() {
        assert!(err("a.b.c pr").contains("invalid attribute path \"a.b.c\": only one level"));
        assert!(err("_a pr").contains("must start with a letter"));
        assert!(err(&format!("{ENT} pr")).contains("schema URN, not an attribute"));
    }

    #[test]
    fn error_value_paths() {
        assert!(err("emails[type[value eq 1] eq 1]").contains("cannot be nested"));
        assert!(
            err("emails[type eq \"work\"").contains("expected ']' to close the '[' at position 6")
        );
        assert!(err("emails[type eq \"work\"].").contains("expected a sub-attribute name"));
        assert!(err("emails[type eq \"work\"].value").contains("expected an operator"));
        assert!(err("emails[type eq \"work\"].value.x eq 1").contains("only one level"));
        assert!(err("name.givenName[value eq 1]").contains("must follow a multi-valued attribute"));
        assert!(err("emails[]").contains("expected an attribute name"));
    }

    #[test]
    fn error_details_quote_input_briefly() {
        let long = format!("{} foo", "a".repeat(5000));
        let d = err(&long);
        assert!(d.len() < 300, "{d}");
    }

    // ----- hardening -----

    #[test]
    fn length_cap() {
        let s = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
        assert!(err(&s).contains("at most 16384"));
        let ok = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN - 10));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn depth_cap() {
        let nest = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(p(&nest(MAX_DEPTH)), pr("a"));
        assert!(err(&nest(MAX_DEPTH + 1)).contains("nested too deeply"));
        assert!(err(&"(".repeat(MAX_FILTER_LEN)).contains("nested too deeply"));
        assert!(err(&"not ".repeat(4000)).contains("nested too deeply"));
        assert!(err(&"not (".repeat(3000)).contains("nested too deeply"));
    }

    #[test]
    fn expression_cap() {
        let chain = |n: usize| vec!["a pr"; n].join(" and ");
        // n terms + (n - 1) `and`s.
        let f = p(&chain(500));
        assert!(matches(&f, &json!({"a": 1}), &|_| false));
        assert!(!matches(&f, &json!({}), &|_| false));
        assert!(err(&chain(501)).contains("too many expressions"));
        assert!(err(&vec!["a pr"; 2000].join(" or ")).contains("at most 1000"));
    }

    /// Parsing, evaluating, rendering, cloning and dropping the deepest accepted filters fits in
    /// 256 KiB of stack even in a debug build (threads get 2 MiB by default).
    #[test]
    fn worst_case_filters_fit_a_small_stack() {
        let cases = [
            vec!["a eq 1"; 500].join(" or "),
            format!("{}a pr and b pr{}", "(a pr and ".repeat(63), ")".repeat(63)),
            format!("{}a pr{}", "not (".repeat(32), ")".repeat(32)),
            format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH)),
            format!("{}a pr{}", "not ".repeat(MAX_DEPTH - 1), ""),
            format!(
                "emails[{}type pr{}]",
                "(".repeat(MAX_DEPTH - 1),
                ")".repeat(MAX_DEPTH - 1)
            ),
            "(".repeat(MAX_FILTER_LEN),
        ];
        for s in cases {
            let handle = std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || {
                    let Ok(f) = parse(&s) else { return None };
                    let hit = matches(&f, &json!({"a": 1, "emails": [{"type": "x"}]}), &|_| false);
                    let rendered = f.to_string();
                    let copy = f.clone();
                    let same = copy == f;
                    drop(f);
                    Some((hit, same, rendered.len()))
                })
                .unwrap();
            if let Some((_, same, len)) = handle.join().unwrap() {
                assert!(same);
                assert!(len > 0);
            }
        }
    }

    use crate::scim::test_rng::Rng;

    const FRAGMENTS: &[&str] = &[
        "userName",
        "emails",
        "value",
        "type",
        "name.givenName",
        " ",
        " ",
        " ",
        "eq",
        "ne",
        "co",
        "sw",
        "gt",
        "le",
        "pr",
        "and",
        "or",
        "not",
        "AND",
        "Not",
        "(",
        ")",
        "[",
        "]",
        ".",
        "\"",
        "\"work\"",
        "\\",
        "\\u",
        "d83d",
        "\\ude00",
        "\\\"",
        "1",
        "-",
        "e",
        "0",
        ".5",
        "true",
        "null",
        "False",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ":",
        "department",
        "$ref",
        "é",
        "😀",
        "'",
        "\t",
        "\n",
        "\u{0}",
        ",",
        "manager",
        "meta.lastModified",
        "\"2011-05-13T04:42:34Z\"",
        "roles",
        "a.b.c",
        "1e999",
        "[type eq \"work\"]",
        "].value",
    ];

    const ATTRS: &[&str] = &[
        "userName",
        "emails",
        "emails.value",
        "name.givenName",
        "meta.lastModified",
        "roles",
        "active",
        "loginCount",
        "title",
        "nickName",
        "x509Certificates",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName",
        "missing",
        "not",
        "type",
        "value",
    ];
    const VALUES: &[&str] = &[
        "\"bjensen@example.com\"",
        "\"work\"",
        "\"\"",
        "\"J\"",
        "\"\\u00e9\\\"\"",
        "42",
        "-1.5",
        "1e2",
        "true",
        "false",
        "null",
        "\"2011-05-13T04:42:34Z\"",
        "\"admin\"",
    ];
    const OPS: &[&str] = &[
        "eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "pr",
    ];

    fn pick<'a>(rng: &mut Rng, from: &[&'a str]) -> &'a str {
        from[rng.below(from.len())]
    }

    /// A random filter that is valid by construction (the parser must accept it).
    fn valid_filter(rng: &mut Rng, depth: usize, in_value_path: bool) -> String {
        let leaf = depth == 0 || rng.below(3) == 0;
        if leaf {
            let a = pick(rng, ATTRS);
            if !in_value_path && rng.below(6) == 0 {
                let inner = valid_filter(rng, depth.saturating_sub(1), true);
                let multi = pick(
                    rng,
                    &["emails", "roles", "name", "addresses", "members", ATTRS[12]],
                );
                return match rng.below(3) {
                    0 => format!("{multi}[{inner}].value eq {}", pick(rng, VALUES)),
                    _ => format!("{multi}[{inner}]"),
                };
            }
            return match pick(rng, OPS) {
                "pr" => format!("{a} pr"),
                op => format!("{a} {op} {}", pick(rng, VALUES)),
            };
        }
        let l = valid_filter(rng, depth - 1, in_value_path);
        let r = valid_filter(rng, depth - 1, in_value_path);
        match rng.below(5) {
            0 => format!("{l} and {r}"),
            1 => format!("{l} or {r}"),
            2 => format!("({l} Or {r}) AND {r}"),
            3 => format!("not ({l})"),
            _ => format!("{l} and not ({r})"),
        }
    }

    fn random_input(rng: &mut Rng) -> String {
        match rng.below(4) {
            0 => {
                let bytes: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                String::from_utf8_lossy(&bytes).into_owned()
            }
            1 => (0..rng.below(24)).map(|_| pick(rng, FRAGMENTS)).collect(),
            2 => valid_filter(rng, 4, false),
            _ => {
                // A valid filter with a random fragment spliced in or a span cut out.
                let mut s = valid_filter(rng, 3, false);
                let cut = rng.below(s.len() + 1);
                let cut = (0..=cut)
                    .rev()
                    .find(|i| s.is_char_boundary(*i))
                    .unwrap_or(0);
                if rng.below(2) == 0 {
                    s.insert_str(cut, pick(rng, FRAGMENTS));
                } else {
                    let end = (cut..=s.len())
                        .find(|i| s.is_char_boundary(*i) && *i >= cut + rng.below(8))
                        .unwrap_or(s.len());
                    s.replace_range(cut..end, "");
                }
                s
            }
        }
    }

    #[test]
    fn fuzz_never_panics_and_round_trips() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let resource = user();
        let mut parsed = 0;
        for _ in 0..30_000 {
            let kind = rng.below(4);
            let s = if kind == 2 {
                valid_filter(&mut rng, 4, false)
            } else {
                random_input(&mut rng)
            };
            match parse(&s) {
                Ok(f) => {
                    parsed += 1;
                    let _ = matches(&f, &resource, &|_| false);
                    let _ = matches(&f, &resource, &|_| true);
                    let _ = matches(&f, &json!([1, {"a": null}]), &|_| false);
                    // Rendering is a fixed point: re-parsing gives a filter that renders the same,
                    // i.e. the same tree up to associativity of and/or.
                    let rendered = f.to_string();
                    match parse(&rendered) {
                        Ok(g) => {
                            assert_eq!(g.to_string(), rendered, "{s:?}");
                            assert_eq!(
                                matches(&g, &resource, &|_| false),
                                matches(&f, &resource, &|_| false),
                                "{s:?}"
                            );
                        }
                        Err(e) => assert!(
                            e.detail.contains("nested too deeply"),
                            "{s:?}: {}",
                            e.detail
                        ),
                    }
                }
                Err(e) => {
                    assert!(kind != 2, "valid filter {s:?} refused: {}", e.detail);
                    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
                    assert!(
                        e.detail.starts_with("invalid filter at position "),
                        "{}",
                        e.detail
                    );
                }
            }
            if let Err(e) = parse_patch(&s) {
                assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
            }
            let _ = AttrPath::parse(&s);
            let _ = path::split_urn(&s);
        }
        // A quarter of the inputs are valid by construction; mutations add some more.
        assert!(parsed > 7_500, "only {parsed} inputs parsed");
    }
}
