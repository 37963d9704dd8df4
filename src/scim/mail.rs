//! Mail addresses as identities: one form per address, so that two users can never hold
//! addresses that look the same (a hidden zero-width space, `ü` against `u` and a combining
//! diaeresis, a Unicode domain against its `xn--` spelling) and compare as different.
//!
//! The index form of an address is: NFC, lower case, and the domain in its ASCII (IDNA,
//! UTS #46) spelling. The stored resource keeps the address as the client sent it.
//!
//! A domain with non-ASCII letters is held to what browsers require before they show a
//! domain as Unicode rather than as `xn--` (Chromium's and Firefox's IDN display policies):
//! IDNA's rules (UTS #46 with the STD3 letters-digits-hyphen rule, hyphen and length checks),
//! one script per label (UTS #39's "highly restrictive" level: Latin may join Chinese, Japanese
//! or Korean, nothing else), and a top-level domain in Latin letters is plain ASCII. So
//! `аcme.com` (a Cyrillic `а`) or `x.com` with a dot above its `m` is refused, not kept as a
//! new identity that looks like an existing one; `bücher.de`, `例え.jp`, `пример.рф` are kept.

use icu_properties::props::Script;
use icu_properties::{CodePointMapData, PropertyNamesLong};
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::error::ScimError;

/// Unicode's format characters (general category Cf): invisible, so an address holding
/// one looks like another without it. (Unicode 15.1, DerivedGeneralCategory.txt.)
const FORMAT_CHARACTERS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

fn is_format(c: char) -> bool {
    let c = u32::from(c);
    FORMAT_CHARACTERS
        .iter()
        .any(|&(lo, hi)| (lo..=hi).contains(&c))
}

fn refused(attribute: &str, value: &str, c: char, what: &str) -> ScimError {
    ScimError::invalid_value(format!(
        "{attribute} {value:?} contains U+{:04X}, {what}; send the address without it",
        u32::from(c)
    ))
}

/// The index form of a mail address (see the module doc), or a 400 `invalidValue` naming
/// the code point that is refused: control and format characters anywhere, and a combining
/// mark that composes with nothing (at the start of a part, or after a character it does not
/// combine with into one, such as an ASCII letter or `.` or `@`).
pub fn index_form(attribute: &str, value: &str) -> Result<String, ScimError> {
    for c in value.chars() {
        if c.is_control() {
            return Err(refused(attribute, value, c, "a control character"));
        }
        if is_format(c) {
            return Err(refused(
                attribute,
                value,
                c,
                "an invisible format character",
            ));
        }
    }
    let composed: String = value.nfc().collect();
    let mut previous: Option<char> = None;
    for c in composed.chars() {
        // After NFC a mark still standing alone on ASCII (or on nothing) is decoration: the
        // address would look like the one without it.
        if is_combining_mark(c) && previous.is_none_or(|p| p.is_ascii()) {
            return Err(refused(
                attribute,
                value,
                c,
                "a combining mark that joins no letter",
            ));
        }
        previous = Some(c);
    }
    let lower = composed.to_lowercase();
    let Some((local, domain)) = lower.rsplit_once('@') else {
        return Ok(lower);
    };
    if domain.is_ascii() && !domain.split('.').any(|label| label.starts_with("xn--")) {
        return Ok(lower);
    }
    let ascii = idna_domain(domain)
        .map_err(|why| ScimError::invalid_value(format!("{attribute} {value:?} has {why}")))?;
    Ok(format!("{local}@{ascii}"))
}

/// The ASCII spelling of a domain that holds non-ASCII letters or `xn--` labels, or why it
/// is refused (a phrase that follows "has"). The checks run on the Unicode spelling, so a
/// look-alike sent as `xn--` is refused like the one sent in Unicode.
fn idna_domain(domain: &str) -> Result<String, String> {
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| {
        "a domain that IDNA (UTS #46) refuses: each label must be letters, digits and inner \
         hyphens, start with no combining mark, and be at most 63 bytes in its ASCII spelling"
            .to_string()
    })?;
    let (unicode, decoded) = idna::domain_to_unicode(&ascii);
    if decoded.is_err() {
        return Err("a domain with an `xn--` label that decodes to no valid name".into());
    }
    for label in unicode.split('.') {
        let scripts = scripts_of(label);
        if !single_script(&scripts) {
            let mut names: Vec<&str> = scripts.iter().map(|s| script_name(*s)).collect();
            names.sort_unstable();
            return Err(format!(
                "the domain label {label:?}, which mixes the {} scripts: look-alike domains \
                 are made that way (a Cyrillic `а` for a Latin `a`), and browsers show such \
                 names as `xn--`; send the domain in one script",
                names.join(" and ")
            ));
        }
    }
    if let Some(tld) = unicode.rsplit('.').next() {
        if !tld.is_ascii() && scripts_of(tld).contains(&Script::Latin) {
            let bare: String = tld.nfd().filter(|c| !is_combining_mark(*c)).collect();
            return Err(format!(
                "the top-level domain {tld:?}: top-level domains in Latin letters are plain \
                 ASCII, so this one only looks like {bare:?}"
            ));
        }
    }
    Ok(ascii)
}

/// The scripts of a label's letters, each once, in order of appearance; characters of no
/// script of their own (digits, `-`, combining marks: Common and Inherited) are left out.
fn scripts_of(label: &str) -> Vec<Script> {
    let map = CodePointMapData::<Script>::new();
    let mut scripts = Vec::new();
    for c in label.chars() {
        let script = map.get(c);
        if script != Script::Common && script != Script::Inherited && !scripts.contains(&script) {
            scripts.push(script);
        }
    }
    scripts
}

/// Whether a label's scripts pass UTS #39's "highly restrictive" level, which Chromium and
/// Firefox require to show a label in Unicode: one script, or Latin with the scripts of
/// Japanese (Han, Hiragana, Katakana), Chinese (Han, Bopomofo) or Korean (Han, Hangul).
fn single_script(scripts: &[Script]) -> bool {
    const CJK: [&[Script]; 3] = [
        &[
            Script::Latin,
            Script::Han,
            Script::Hiragana,
            Script::Katakana,
        ],
        &[Script::Latin, Script::Han, Script::Bopomofo],
        &[Script::Latin, Script::Han, Script::Hangul],
    ];
    scripts.len() <= 1
        || CJK
            .iter()
            .any(|set| scripts.iter().all(|s| set.contains(s)))
}

fn script_name(script: Script) -> &'static str {
    PropertyNamesLong::<Script>::new()
        .get(script)
        .unwrap_or("unknown")
}

/// The index form of a filter's comparison value, for `eq` against stored addresses: what
/// cannot be an address compares as it is, lower-cased (it then matches nothing odd).
pub fn filter_form(value: &str) -> String {
    index_form("", value).unwrap_or_else(|_| value.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(v: &str) -> Result<String, String> {
        index_form("emails.value", v).map_err(|e| e.detail)
    }

    #[test]
    fn look_alikes_are_refused_naming_the_code_point() {
        for (mail, cp) in [
            ("u\u{200B}@example.com", "U+200B"),
            ("u@exa\u{2060}mple.com", "U+2060"),
            ("\u{FEFF}u@example.com", "U+FEFF"),
            ("u\u{00AD}@example.com", "U+00AD"),
            ("u@example.com\u{0007}", "U+0007"),
            ("u\u{0332}@example.com", "U+0332"),
            ("\u{0301}u@example.com", "U+0301"),
            ("u@\u{0308}example.com", "U+0308"),
        ] {
            let e = form(mail).expect_err(mail);
            assert!(e.contains(cp), "{e}");
        }
    }

    #[test]
    fn one_form_per_address() {
        assert_eq!(form("Alice@Example.COM").unwrap(), "alice@example.com");
        assert_eq!(form("u@bücher.example").unwrap(), "u@xn--bcher-kva.example");
        assert_eq!(
            form("u@xn--bcher-kva.example").unwrap(),
            "u@xn--bcher-kva.example"
        );
        assert_eq!(
            form("u@bu\u{0308}cher.example").unwrap(),
            "u@xn--bcher-kva.example"
        );
        assert_eq!(form("U@BÜCHER.example").unwrap(), "u@xn--bcher-kva.example");
        // A composed local part and its decomposed spelling are one address.
        assert_eq!(
            form("jose\u{0301}@example.com").unwrap(),
            "josé@example.com"
        );
        assert_eq!(form("josé@example.com").unwrap(), "josé@example.com");
        // Marks that belong to a script stay.
        assert_eq!(form("नमस्ते@example.com").unwrap(), "नमस्ते@example.com");
    }

    #[test]
    fn internationalised_domains_in_one_script_are_kept() {
        assert_eq!(form("u@bücher.de").unwrap(), "u@xn--bcher-kva.de");
        assert_eq!(form("u@例え.jp").unwrap(), "u@xn--r8jz45g.jp");
        assert_eq!(form("u@пример.рф").unwrap(), "u@xn--e1afmkfd.xn--p1ai");
        assert_eq!(
            form("u@xn--e1afmkfd.xn--p1ai").unwrap(),
            "u@xn--e1afmkfd.xn--p1ai"
        );
        // Latin with Japanese, Chinese or Korean is one of the mixes browsers show.
        assert!(form("u@sony的.cn").is_ok());
        assert!(form("u@ソニーabc.jp").is_ok());
        assert!(form("u@한국abc.kr").is_ok());
        // Digits and hyphens belong to every script.
        assert_eq!(form("u@münchen-2.de").unwrap(), "u@xn--mnchen-2-65a.de");
    }

    #[test]
    fn mixed_script_labels_are_refused_naming_the_scripts() {
        // A Cyrillic а (U+0430) for the Latin a, in Unicode and as its xn-- spelling.
        let spelled = format!("u@{}", idna::domain_to_ascii("\u{0430}cme.com").unwrap());
        for mail in ["u@\u{0430}cme.com", spelled.as_str()] {
            let e = form(mail).expect_err(mail);
            assert!(e.contains("mixes the Cyrillic and Latin scripts"), "{e}");
            assert!(e.contains("\"\u{0430}cme\""), "{e}");
        }
        // Greek omicron in a Latin name; Cyrillic with Korean.
        assert!(form("u@g\u{03BF}\u{03BF}gle.com").is_err());
        assert!(form("u@\u{0430}\u{D55C}.com").is_err());
    }

    #[test]
    fn what_idna_refuses_is_refused() {
        // A combining dot above composing with the last letter of `.com`: `coṁ` is no
        // top-level domain, only a look-alike of `com`.
        let e = form("u@x.com\u{0307}").expect_err("composing mark");
        assert!(e.contains("top-level domain \"coṁ\""), "{e}");
        assert!(e.contains("looks like \"com\""), "{e}");
        // A combining mark starting a label, after a dot.
        assert!(form("u@b\u{00FC}cher.\u{0308}de").is_err());
        for mail in [
            "u@bü_cher.de",                      // not letters-digits-hyphen
            "u@-bücher.de",                      // a leading hyphen
            "u@bü--cher.de",                     // hyphens at 3 and 4
            "u@xn--zz.com",                      // not valid punycode
            &format!("u@{}.de", "ü".repeat(70)), // longer than 63 bytes
        ] {
            let e = form(mail).expect_err(mail);
            assert!(e.contains("IDNA") || e.contains("xn--"), "{mail}: {e}");
        }
    }
}
