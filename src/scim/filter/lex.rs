//! The filter tokenizer: turns a filter (or PATCH path) into tokens with their byte positions,
//! decoding JSON strings and numbers, and builds the position-carrying error details.

use std::fmt;
use std::iter::Peekable;
use std::str::CharIndices;

use serde_json::{Number, Value};

use super::CompareOp;
use crate::scim::error::ScimError;
use crate::scim::path;

/// A token of a filter or PATCH path.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Dot,
    /// An attribute path, keyword or operator: which one depends on where it stands.
    Word(String),
    Str(String),
    Num(Number),
    End,
}

impl fmt::Display for Tok {
    /// How a token is named in error details.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("'('"),
            Tok::RParen => f.write_str("')'"),
            Tok::LBracket => f.write_str("'['"),
            Tok::RBracket => f.write_str("']'"),
            Tok::Dot => f.write_str("'.'"),
            Tok::Word(w) => write!(f, "\"{}\"", path::snippet(w)),
            Tok::Str(s) => write!(f, "the string {}", Value::String(path::snippet(s))),
            Tok::Num(n) => write!(f, "the number {n}"),
            Tok::End => f.write_str("the end of the input"),
        }
    }
}

/// A token and where it starts.
#[derive(Debug, Clone)]
pub(super) struct Token {
    /// What the token is.
    pub(super) tok: Tok,
    /// Byte offset in the source; turned into a character position for error details.
    pub(super) pos: usize,
}

/// What is being read: a filter (errors are invalidFilter) or a PATCH path (invalidPath).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    Filter,
    Path,
}

/// The error for `msg` at byte `pos` of `src`, naming the character position.
pub(super) fn error(src: &str, mode: Mode, pos: usize, msg: impl fmt::Display) -> ScimError {
    let col = src.get(..pos).map_or(pos, |p| p.chars().count());
    match mode {
        Mode::Filter => {
            ScimError::invalid_filter(format!("invalid filter at position {col}: {msg}"))
        }
        Mode::Path => ScimError::invalid_path(format!("invalid path at position {col}: {msg}")),
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.' | '$')
}

/// Consumes characters while `pred` holds and answers the byte offset where it stopped.
fn take_while(src: &str, it: &mut Peekable<CharIndices<'_>>, pred: impl Fn(char) -> bool) -> usize {
    while let Some(&(pos, c)) = it.peek() {
        if !pred(c) {
            return pos;
        }
        it.next();
    }
    src.len()
}

/// Whether the next token is a comparison's value: the last two tokens are an attribute and
/// a comparison operator (`userName eq`).
fn after_operator(toks: &[Token]) -> bool {
    match toks {
        [.., Token {
            tok: Tok::Word(attr),
            ..
        }, Token {
            tok: Tok::Word(op), ..
        }] => CompareOp::from_keyword(op).is_some() && CompareOp::from_keyword(attr).is_none(),
        _ => false,
    }
}

/// A comparison value written without quotes, as Microsoft's SCIM validator sends them
/// (`userName sw O`, `emails.value co example.com`, `meta.created gt 2015-10-10T14:38:21Z`):
/// the text up to the next space, `)` or `]`, as a string. None when no such text follows, or
/// it is a number, `true`, `false` or `null` written as such, or holds what no bare value
/// may: the lexer then reads it as before.
fn lex_bare_value(src: &str, it: &mut Peekable<CharIndices<'_>>) -> Option<Tok> {
    let &(start, _) = it.peek()?;
    let mut end = src.len();
    let mut probe = it.clone();
    while let Some(&(pos, c)) = probe.peek() {
        if c.is_whitespace() || c == ')' || c == ']' || c == '(' || c == '[' {
            end = pos;
            break;
        }
        probe.next();
    }
    let text = src.get(start..end).filter(|t| !t.is_empty())?;
    // Quotes, NUL and text made only of number characters (`1.2.3`, `01`, `-`) are left to
    // the lexer, which says what is wrong with them.
    let numeric = text
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if text.starts_with('\'') || text.contains(['"', '\0']) || numeric {
        return None;
    }
    if ["true", "false", "null"]
        .iter()
        .any(|k| text.eq_ignore_ascii_case(k))
    {
        return None;
    }
    *it = probe;
    Some(Tok::Str(text.to_string()))
}

/// Tokenizes `src`; the last token is [`Tok::End`].
pub(super) fn lex(src: &str, mode: Mode) -> Result<Vec<Token>, ScimError> {
    let mut toks = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some(&(pos, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
            continue;
        }
        if mode == Mode::Filter && c != '"' && after_operator(&toks) {
            if let Some(tok) = lex_bare_value(src, &mut it) {
                toks.push(Token { tok, pos });
                continue;
            }
        }
        let tok = match c {
            '(' | ')' | '[' | ']' | '.' => {
                it.next();
                match c {
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    '[' => Tok::LBracket,
                    ']' => Tok::RBracket,
                    _ => Tok::Dot,
                }
            }
            '"' => {
                it.next();
                Tok::Str(lex_string(src, mode, pos, &mut it)?)
            }
            '-' | '0'..='9' => {
                it.next();
                let end = take_while(src, &mut it, |c| {
                    c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')
                });
                let text = src.get(pos..end).unwrap_or_default();
                // serde_json applies JSON's number grammar and range checks for us.
                match serde_json::from_str::<Value>(text) {
                    Ok(Value::Number(n)) => Tok::Num(n),
                    _ => {
                        return Err(error(
                            src,
                            mode,
                            pos,
                            format!("\"{}\" is not a valid JSON number", path::snippet(text)),
                        ))
                    }
                }
            }
            c if c.is_ascii_alphabetic() || c == '$' || c == '_' => {
                let end = take_while(src, &mut it, is_word_char);
                Tok::Word(src.get(pos..end).unwrap_or_default().to_string())
            }
            other => {
                let hint = if other == '\'' {
                    " (strings must be in double quotes)"
                } else {
                    ""
                };
                return Err(error(
                    src,
                    mode,
                    pos,
                    format!("unexpected character '{}'{hint}", other.escape_default()),
                ));
            }
        };
        toks.push(Token { tok, pos });
    }
    toks.push(Token {
        tok: Tok::End,
        pos: src.len(),
    });
    Ok(toks)
}

/// Reads a JSON string body after its opening quote (at byte `start`).
fn lex_string(
    src: &str,
    mode: Mode,
    start: usize,
    it: &mut Peekable<CharIndices<'_>>,
) -> Result<String, ScimError> {
    let unterminated = || {
        error(
            src,
            mode,
            start,
            "unterminated string: missing the closing '\"'",
        )
    };
    let mut out = String::new();
    loop {
        let (cpos, c) = it.next().ok_or_else(unterminated)?;
        match c {
            '"' => return Ok(out),
            // Stored strings never hold NUL (PostgreSQL text cannot), so neither may a filter's.
            '\0' => return Err(nul_in_string(src, mode, cpos)),
            '\\' => {
                let (epos, e) = it.next().ok_or_else(unterminated)?;
                let decoded = match e {
                    '"' => '"',
                    '\\' => '\\',
                    '/' => '/',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'u' => match lex_unicode_escape(src, mode, epos, it)? {
                        '\0' => return Err(nul_in_string(src, mode, epos.saturating_sub(1))),
                        c => c,
                    },
                    other => {
                        return Err(error(
                            src,
                            mode,
                            epos.saturating_sub(1),
                            format!(
                                "invalid escape '\\{}' in a string; use \\\", \\\\, \\/, \\b, \\f, \\n, \\r, \\t or \\uXXXX",
                                other.escape_default()
                            ),
                        ))
                    }
                };
                out.push(decoded);
            }
            c => out.push(c),
        }
    }
}

#[cold]
fn nul_in_string(src: &str, mode: Mode, pos: usize) -> ScimError {
    error(
        src,
        mode,
        pos,
        "a string contains a NUL character (\\u0000); remove it",
    )
}

/// Decodes `\uXXXX` (the `u` is at byte `upos`), joining a UTF-16 surrogate pair.
fn lex_unicode_escape(
    src: &str,
    mode: Mode,
    upos: usize,
    it: &mut Peekable<CharIndices<'_>>,
) -> Result<char, ScimError> {
    let at = upos.saturating_sub(1);
    let bad = |msg: &str| error(src, mode, at, msg);
    let hex4 = |it: &mut Peekable<CharIndices<'_>>| -> Result<u32, ScimError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let (_, c) = it
                .next()
                .ok_or_else(|| bad("\\u must be followed by 4 hex digits"))?;
            let d = c
                .to_digit(16)
                .ok_or_else(|| bad("\\u must be followed by 4 hex digits"))?;
            v = v * 16 + d;
        }
        Ok(v)
    };
    let hi = hex4(it)?;
    let code = if (0xD800..0xDC00).contains(&hi) {
        let has_low = matches!(it.next(), Some((_, '\\'))) && matches!(it.next(), Some((_, 'u')));
        if !has_low {
            return Err(bad(
                "a \\u high surrogate must be followed by a \\u low surrogate",
            ));
        }
        let lo = hex4(it)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return Err(bad(
                "a \\u high surrogate must be followed by a \\u low surrogate",
            ));
        }
        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
    } else {
        hi
    };
    char::from_u32(code).ok_or_else(|| bad("\\u escape is a lone surrogate, not a character"))
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::CompareOp;
    use serde_json::{json, Value};

    #[test]
    fn value_kinds() {
        assert_eq!(p("a eq 42"), cmp("a", CompareOp::Eq, json!(42)));
        assert_eq!(p("a eq -3.5"), cmp("a", CompareOp::Eq, json!(-3.5)));
        assert_eq!(p("a eq 1e3"), cmp("a", CompareOp::Eq, json!(1000.0)));
        assert_eq!(p("a eq true"), cmp("a", CompareOp::Eq, json!(true)));
        assert_eq!(p("a eq FALSE"), cmp("a", CompareOp::Eq, json!(false)));
        assert_eq!(p("a eq null"), cmp("a", CompareOp::Eq, Value::Null));
        assert_eq!(p("a eq \"\""), eq("a", ""));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(
            p(r#"a eq "q\"b\\s\/n\nt\tr\rb\bf\f""#),
            eq("a", "q\"b\\s/n\nt\tr\rb\u{8}f\u{c}")
        );
        assert_eq!(p(r#"a eq "caf\u00e9""#), eq("a", "café"));
        assert_eq!(p(r#"a eq "\u00C9""#), eq("a", "É"));
        assert_eq!(p(r#"a eq "\ud83d\ude00""#), eq("a", "😀"));
        assert_eq!(p("a eq \"raw é 😀 ]) [(\""), eq("a", "raw é 😀 ]) [("));
        assert_eq!(
            p("name.familyName co \"O'Malley\""),
            eq_op("name.familyName", CompareOp::Co, "O'Malley")
        );
    }

    #[test]
    fn nul_in_strings_is_refused() {
        for f in [
            "a eq \"x\u{0}y\"",
            r#"a eq "x\u0000y""#,
            r#"a[b eq "\u0000"]"#,
        ] {
            assert!(err(f).contains("NUL"), "{f:?}: {}", err(f));
        }
        assert!(err("a\u{0} pr").contains("unexpected character"));
    }

    #[test]
    fn whitespace_is_flexible() {
        assert_eq!(p("  userName   eq\t\"a\"  "), eq("userName", "a"));
        assert_eq!(p("(a pr)and(b pr)"), and(pr("a"), pr("b")));
    }

    #[test]
    fn error_strings() {
        assert_eq!(
            err("userName eq \"abc"),
            "invalid filter at position 12: unterminated string: missing the closing '\"'"
        );
        assert!(err(r#"a eq "\q""#).contains("invalid escape '\\q'"));
        assert!(err(r#"a eq "\u12""#).contains("4 hex digits"));
        assert!(err(r#"a eq "\u12g4""#).contains("4 hex digits"));
        assert!(err(r#"a eq "\ud800""#).contains("low surrogate"));
        assert!(err(r#"a eq "\ud800\u0041""#).contains("low surrogate"));
        assert!(err(r#"a eq "\udc00""#).contains("lone surrogate"));
        assert!(err("a eq \"\\").contains("unterminated"));
    }

    #[test]
    fn error_numbers() {
        assert!(err("a eq 1.2.3").contains("\"1.2.3\" is not a valid JSON number"));
        assert!(err("a eq 1e999").contains("not a valid JSON number"));
        assert!(err("a eq -").contains("not a valid JSON number"));
        assert!(err("a eq 01").contains("not a valid JSON number"));
    }

    #[test]
    fn error_positions_count_characters() {
        // "é" is two bytes but one position.
        assert!(err("displayName eq \"é\" foo").starts_with("invalid filter at position 19:"));
    }
}
