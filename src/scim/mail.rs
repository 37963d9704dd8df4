//! Mail addresses as identities: one form per address, so that two users can never hold
//! addresses that look the same (a hidden zero-width space, `ü` against `u` and a combining
//! diaeresis, a Unicode domain against its `xn--` spelling) and compare as different.
//!
//! The index form of an address is: NFC, lower case, and the domain in its ASCII (IDNA,
//! UTS #46) spelling. The stored resource keeps the address as the client sent it.

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
    match idna::domain_to_ascii(domain) {
        Ok(ascii) => Ok(format!("{local}@{ascii}")),
        Err(_) => Err(ScimError::invalid_value(format!(
            "{attribute} {value:?} has a domain that is not a valid internationalised domain name"
        ))),
    }
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
}
