//! Functions: the derived values a condition computes from fields
//! (spec/language.md, "Derived values"). Their names, parameters, result
//! types and one-line docs, for the checker, the lowering and editors; the
//! runtime implements them.

use crate::schema::Ty;

/// A function a rule may call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    Lower,
    Upper,
    Len,
    Registry,
    Repository,
    Tag,
    Digest,
    Query,
    IsPrivate,
    IsLoopback,
    Base64,
    Keys,
    Values,
}

/// What one argument may be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Param {
    /// A string-like value (`string`, `ip`, `timestamp`) or `json`.
    Str,
    /// A string-like value, a list, or `json`.
    StrOrList,
    /// A string literal: fixed when the rule set loads.
    StrLit,
    /// An object: a `map<T>` or `json` value.
    Map,
}

impl Param {
    /// The parameter's type as a signature shows it.
    pub fn describe(self) -> &'static str {
        match self {
            Param::Str => "string",
            Param::StrOrList => "string or list",
            Param::StrLit => "string literal",
            Param::Map => "map",
        }
    }
}

impl Func {
    pub const ALL: [Func; 13] = [
        Func::Lower,
        Func::Upper,
        Func::Len,
        Func::Registry,
        Func::Repository,
        Func::Tag,
        Func::Digest,
        Func::Query,
        Func::IsPrivate,
        Func::IsLoopback,
        Func::Base64,
        Func::Keys,
        Func::Values,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Lower => "lower",
            Func::Upper => "upper",
            Func::Len => "len",
            Func::Registry => "registry",
            Func::Repository => "repository",
            Func::Tag => "tag",
            Func::Digest => "digest",
            Func::Query => "query",
            Func::IsPrivate => "is_private",
            Func::IsLoopback => "is_loopback",
            Func::Base64 => "base64",
            Func::Keys => "keys",
            Func::Values => "values",
        }
    }

    pub fn by_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Each parameter's name and what it accepts.
    pub fn params(self) -> &'static [(&'static str, Param)] {
        match self {
            Func::Len => &[("x", Param::StrOrList)],
            Func::Registry | Func::Repository | Func::Tag | Func::Digest => {
                &[("image", Param::Str)]
            }
            Func::Query => &[("uri", Param::Str), ("name", Param::StrLit)],
            Func::IsPrivate | Func::IsLoopback => &[("ip", Param::Str)],
            Func::Lower | Func::Upper | Func::Base64 => &[("s", Param::Str)],
            Func::Keys | Func::Values => &[("m", Param::Map)],
        }
    }

    /// The type of the result (every function may also give no value).
    pub fn returns(self) -> Ty {
        match self {
            Func::Len => Ty::Int,
            Func::Query | Func::Keys | Func::Values => Ty::List(Box::new(Ty::String)),
            Func::IsPrivate | Func::IsLoopback => Ty::Bool,
            _ => Ty::String,
        }
    }

    /// `query(uri: string, name: string literal) -> list<string>`
    pub fn signature(self) -> String {
        let params: Vec<String> = self
            .params()
            .iter()
            .map(|(n, p)| format!("{n}: {}", p.describe()))
            .collect();
        format!(
            "{}({}) -> {}",
            self.name(),
            params.join(", "),
            self.returns()
        )
    }

    /// One sentence on what it gives, and when it gives nothing.
    pub fn doc(self) -> &'static str {
        match self {
            Func::Lower => "The string in lower case (Unicode); null if it is not a string.",
            Func::Upper => "The string in upper case (Unicode); null if it is not a string.",
            Func::Len => "The number of characters of a string, or of elements of a list; null for anything else.",
            Func::Registry => "The registry of a container image reference (`docker.io` when none is written); null if it is not a string or not a reference.",
            Func::Repository => "The repository of a container image reference, without registry, tag or digest (`library/nginx` for `nginx`); null if it is not a reference.",
            Func::Tag => "The tag of a container image reference (`latest` when neither tag nor digest is written); null when it has only a digest, or is not a reference.",
            Func::Digest => "The digest of a container image reference (`sha256:...`); null when it has none, or is not a reference.",
            Func::Query => "The URL-decoded values of query parameter `name` in a request URI, in order (`[]` when it has none); null if the URI is not a string.",
            Func::IsPrivate => "Whether an IP address is private: 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) or fc00::/7 (RFC 4193); null if it is no address.",
            Func::IsLoopback => "Whether an IP address is a loopback address: 127.0.0.0/8 or ::1; null if it is no address.",
            Func::Base64 => "The standard base64 text decoded, as UTF-8; null if it is not valid base64 or does not decode to UTF-8.",
            Func::Keys => "The keys of an object (a map such as `labels` or ConfigMap `data`), sorted, each once; null if it is not an object.",
            Func::Values => "The string values of an object, in the order of their sorted keys (a repeated key's last value; values of other JSON types are left out); null if it is not an object.",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_plain_and_not_reserved() {
        for f in Func::ALL {
            assert_eq!(Func::by_name(f.name()), Some(f));
            assert!(crate::syntax::is_plain_name(f.name()), "{}", f.name());
        }
        assert_eq!(
            Func::Query.signature(),
            "query(uri: string, name: string literal) -> list<string>"
        );
    }
}
