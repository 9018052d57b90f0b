//! Functions: the derived values of spec/language.md ("Derived values"),
//! computed from their arguments' values. The compiler's
//! [`ward_compiler::func`] says what they are called and take; a missing or
//! null argument never reaches [`apply`] (the call is missing).

mod image;
mod ip;
pub mod query;

use base64::Engine as _;
use ward_compiler::func::Func;

pub use image::Image;

/// What a call computed.
#[derive(Clone, Debug, PartialEq)]
pub enum Derived {
    Str(String),
    Int(i64),
    Bool(bool),
    List(Vec<String>),
}

/// An argument as a function sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input<'s> {
    Str(&'s str),
    /// A list, by its length (`len` is the one function that takes lists).
    List(usize),
    /// Any other value (a number, a bool, an object): no function takes it.
    Other,
}

/// `func` of `args`; `None` when it has no value for them (an argument
/// of the wrong JSON type, an image that is no reference, an address that
/// is no IP, text that is no base64).
pub fn apply(func: Func, args: &[Input<'_>]) -> Option<Derived> {
    let text = |i: usize| match args.get(i) {
        Some(Input::Str(s)) => Some(*s),
        _ => None,
    };
    Some(match func {
        Func::Lower => Derived::Str(text(0)?.to_lowercase()),
        Func::Upper => Derived::Str(text(0)?.to_uppercase()),
        Func::Len => Derived::Int(match args.first()? {
            Input::Str(s) => i64::try_from(s.chars().count()).ok()?,
            Input::List(n) => i64::try_from(*n).ok()?,
            Input::Other => return None,
        }),
        Func::Registry => Derived::Str(Image::parse(text(0)?)?.registry.to_string()),
        Func::Repository => Derived::Str(Image::parse(text(0)?)?.repository.into_owned()),
        Func::Tag => Derived::Str(Image::parse(text(0)?)?.tag?.to_string()),
        Func::Digest => Derived::Str(Image::parse(text(0)?)?.digest?.to_string()),
        Func::Query => Derived::List(query::values(text(0)?, text(1)?)),
        Func::IsPrivate => Derived::Bool(ip::is_private(ip::parse(text(0)?)?)),
        Func::IsLoopback => Derived::Bool(ip::is_loopback(ip::parse(text(0)?)?)),
        Func::Base64 => Derived::Str(base64(text(0)?)?),
        // Objects are read by `of_object`: no other input is one.
        Func::Keys | Func::Values => return None,
    })
}

/// Whether `func` takes an object, whose entries [`of_object`] reads.
pub fn takes_object(func: Func) -> bool {
    matches!(func, Func::Keys | Func::Values)
}

/// `keys` or `values` of an object given by its entries (key, and the
/// value when it is a string; a repeated key's last value, as a full JSON
/// parse keeps it): the keys in code-point order, or the string values in
/// the order of their keys.
pub fn of_object(
    func: Func,
    entries: std::collections::BTreeMap<String, Option<String>>,
) -> Derived {
    Derived::List(match func {
        Func::Keys => entries.into_keys().collect(),
        _ => entries.into_values().flatten().collect(),
    })
}

/// Standard base64 (`+` and `/`, padding optional), decoded as UTF-8.
fn base64(s: &str) -> Option<String> {
    use base64::engine::{general_purpose, DecodePaddingMode, GeneralPurpose};
    const STANDARD: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        general_purpose::PAD.with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    String::from_utf8(STANDARD.decode(s).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(func: Func, arg: Input<'_>) -> Option<Derived> {
        apply(func, &[arg])
    }

    fn s(v: &str) -> Option<Derived> {
        Some(Derived::Str(v.to_string()))
    }

    #[test]
    fn strings_and_lengths() {
        assert_eq!(one(Func::Lower, Input::Str("ÀdMIN")), s("àdmin"));
        assert_eq!(one(Func::Upper, Input::Str("straße")), s("STRASSE"));
        assert_eq!(one(Func::Lower, Input::Other), None);
        assert_eq!(one(Func::Len, Input::Str("日本語")), Some(Derived::Int(3)));
        assert_eq!(one(Func::Len, Input::Str("")), Some(Derived::Int(0)));
        assert_eq!(one(Func::Len, Input::List(4)), Some(Derived::Int(4)));
        assert_eq!(one(Func::Len, Input::Other), None);
        assert_eq!(one(Func::Keys, Input::Str("x")), None);
        let entries: std::collections::BTreeMap<String, Option<String>> =
            [("b", Some("4")), ("a", None), ("c", Some("3"))]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.map(str::to_string)))
                .collect();
        let list = |v: &[&str]| Derived::List(v.iter().map(|s| s.to_string()).collect());
        assert_eq!(
            of_object(Func::Keys, entries.clone()),
            list(&["a", "b", "c"])
        );
        assert_eq!(of_object(Func::Values, entries), list(&["4", "3"]));
        assert_eq!(of_object(Func::Keys, Default::default()), list(&[]));
        assert_eq!(one(Func::Upper, Input::List(1)), None);
    }

    #[test]
    fn base64_decodes_standard_text_to_utf8_only() {
        assert_eq!(one(Func::Base64, Input::Str("aGVsbG8=")), s("hello"));
        assert_eq!(one(Func::Base64, Input::Str("aGVsbG8")), s("hello"));
        assert_eq!(one(Func::Base64, Input::Str("")), s(""));
        assert_eq!(
            one(Func::Base64, Input::Str("Y2F0IC9ldGMvc2hhZG93")),
            s("cat /etc/shadow")
        );
        // URL-safe letters, spaces and stray characters are not standard.
        assert_eq!(one(Func::Base64, Input::Str("-_8=")), None);
        assert_eq!(one(Func::Base64, Input::Str("aGVs bG8=")), None);
        assert_eq!(one(Func::Base64, Input::Str("a")), None);
        // Valid base64 of bytes that are not UTF-8.
        assert_eq!(one(Func::Base64, Input::Str("/w==")), None);
    }

    #[test]
    fn images_ips_and_queries() {
        let img = |f, v| one(f, Input::Str(v));
        assert_eq!(img(Func::Registry, "nginx"), s("docker.io"));
        assert_eq!(img(Func::Repository, "nginx"), s("library/nginx"));
        assert_eq!(img(Func::Tag, "nginx"), s("latest"));
        assert_eq!(img(Func::Digest, "nginx"), None);
        assert_eq!(img(Func::Registry, ""), None);
        assert_eq!(img(Func::IsPrivate, "10.1.2.3"), Some(Derived::Bool(true)));
        assert_eq!(img(Func::IsPrivate, "8.8.8.8"), Some(Derived::Bool(false)));
        assert_eq!(img(Func::IsLoopback, "AWS Internal"), None);
        assert_eq!(
            apply(
                Func::Query,
                &[
                    Input::Str("/x?command=sh&command=-c"),
                    Input::Str("command")
                ]
            ),
            Some(Derived::List(vec!["sh".into(), "-c".into()]))
        );
        assert_eq!(
            apply(Func::Query, &[Input::Other, Input::Str("command")]),
            None
        );
    }
}
