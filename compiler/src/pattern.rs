//! Patterns shared by the checker and the runtime: regexes (linear-time, with
//! size limits), globs and CIDR blocks.

use std::net::IpAddr;

use regex_automata::meta::Regex;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::MatchKind;

/// Largest compiled regex, in bytes of NFA, per pattern.
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;
/// Deepest nesting of groups and repetitions accepted in a regex.
pub const REGEX_NEST_LIMIT: u32 = 64;

/// Compiles a regex with Ward's limits. regex-automata never backtracks, so
/// matching is linear in the input; the limits bound compile time and memory.
pub fn regex(pattern: &str, case_insensitive: bool) -> Result<Regex, String> {
    build_regex(pattern, case_insensitive, Regex::config()).map_err(|e| match e {
        Invalid::Syntax(e) | Invalid::Size(e) => e,
    })
}

/// Why a regex did not build.
enum Invalid {
    Syntax(String),
    Size(String),
}

/// Whether [`regex`] would compile `pattern`, and if not, why: the
/// checker's question. It fails exactly when [`regex`] does, for less:
/// [`regex`]'s cost is mostly its full DFAs (determinized for a small
/// regex) and its prefilter (literal extraction, Teddy); neither can fail.
/// An error comes from parsing or from the size limit of the forward and
/// reverse NFAs, which this builds (the lazy DFA kept on needs the
/// reverse one). One thing differs: without a prefilter, a regex that is
/// only a set of literals is not answered by the prefilter alone, so its
/// NFA is built and may exceed the limit where [`regex`] would never
/// build it. A size error is therefore confirmed by [`regex`] itself.
pub fn regex_valid(pattern: &str, case_insensitive: bool) -> Result<(), String> {
    let lean = Regex::config()
        .dfa(false)
        .onepass(false)
        .auto_prefilter(false);
    match build_regex(pattern, case_insensitive, lean) {
        Ok(_) => Ok(()),
        Err(Invalid::Size(_)) => regex(pattern, case_insensitive).map(|_| ()),
        Err(Invalid::Syntax(e)) => Err(e),
    }
}

fn build_regex(
    pattern: &str,
    case_insensitive: bool,
    config: regex_automata::meta::Config,
) -> Result<Regex, Invalid> {
    Regex::builder()
        .syntax(
            syntax::Config::new()
                .case_insensitive(case_insensitive)
                .nest_limit(REGEX_NEST_LIMIT),
        )
        .configure(config.nfa_size_limit(Some(REGEX_SIZE_LIMIT)))
        .build(pattern)
        .map_err(|e| match (e.syntax_error(), e.size_limit()) {
            // The syntax error's own Display draws carets over the pattern;
            // the span label does that job here.
            (Some(regex_syntax::Error::Parse(p)), _) => Invalid::Syntax(p.kind().to_string()),
            (Some(regex_syntax::Error::Translate(t)), _) => Invalid::Syntax(t.kind().to_string()),
            (None, Some(limit)) => Invalid::Size(format!(
                "compiles to more than {limit} bytes; simplify it or split it"
            )),
            _ => Invalid::Syntax(e.to_string()),
        })
}

/// Compiles several regexes, each `(pattern, case_insensitive)`, into one
/// automaton that reports every pattern matching anywhere in a haystack
/// (`MatchKind::All`, for `which_overlapping_matches`). Each pattern is
/// parsed exactly as [`regex`] parses it alone; the whole set is held to
/// the size limit of one regex, so a caller splits a set that exceeds it.
pub fn regex_set(patterns: &[(String, bool)]) -> Result<Regex, String> {
    let hirs = patterns
        .iter()
        .map(|(p, ci)| {
            syntax::parse_with(
                p,
                &syntax::Config::new()
                    .case_insensitive(*ci)
                    .nest_limit(REGEX_NEST_LIMIT),
            )
            .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, String>>()?;
    Regex::builder()
        .configure(
            Regex::config()
                .match_kind(MatchKind::All)
                .which_captures(WhichCaptures::None)
                .nfa_size_limit(Some(REGEX_SIZE_LIMIT)),
        )
        .build_many_from_hir(&hirs)
        .map_err(|e| e.to_string())
}

/// Translates a glob to an anchored regex: `*` any run of characters, `?` one
/// character, `[abc]`/`[!a-z]` classes, `\` escapes the next character.
pub fn glob_to_regex(glob: &str) -> Result<String, String> {
    let mut out = String::from("^(?s:");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '\\' => match chars.next() {
                Some(n) => push_literal(&mut out, n),
                None => return Err("the glob ends with a lone `\\`".into()),
            },
            '[' => {
                out.push('[');
                if matches!(chars.peek(), Some('!') | Some('^')) {
                    chars.next();
                    out.push('^');
                }
                let mut closed = false;
                let mut first = true;
                for n in chars.by_ref() {
                    if n == ']' && !first {
                        closed = true;
                        break;
                    }
                    first = false;
                    match n {
                        '\\' | '[' | '&' | '~' => {
                            out.push('\\');
                            out.push(n)
                        }
                        other => out.push(other),
                    }
                }
                if !closed {
                    return Err("a `[` class is not closed with `]`".into());
                }
                out.push(']');
            }
            other => push_literal(&mut out, other),
        }
    }
    out.push_str(")$");
    Ok(out)
}

fn push_literal(out: &mut String, c: char) {
    if "\\.+*?()|[]{}^$#&-~".contains(c) {
        out.push('\\');
    }
    out.push(c);
}

/// An address as `str::parse::<IpAddr>` reads it. Rules test the address
/// of every event, so a dotted quad is read here by hand (the standard
/// parser costs several times more); anything else goes to it.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let b = text.as_bytes();
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut i = 0;
    while n < 4 {
        let start = i;
        let mut v: u32 = 0;
        while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
            v = v * 10 + u32::from(d - b'0');
            i += 1;
            if i - start > 3 {
                return text.parse().ok();
            }
        }
        // One to three digits, no leading zero, at most 255.
        let len = i - start;
        if len == 0 || (len > 1 && b[start] == b'0') || v > 255 {
            return text.parse().ok();
        }
        octets[n] = v as u8;
        n += 1;
        match (n, b.get(i)) {
            (4, None) => return Some(IpAddr::from(octets)),
            (1..=3, Some(b'.')) => i += 1,
            _ => return text.parse().ok(),
        }
    }
    text.parse().ok()
}

/// The mask of an IPv4 prefix of `prefix` bits (at most 32).
pub fn v4_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

/// The mask of an IPv6 prefix of `prefix` bits (at most 128).
pub fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

/// An IP network: an address and a prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// `10.0.0.0/8`, `fd00::/8`, or a bare address (a /32 or /128).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("prefix `/{p}` is not between /0 and /{max}"))?,
        };
        let cidr = Cidr { addr, prefix };
        if cidr.network() != addr {
            return Err(format!(
                "host bits are set: the network of /{prefix} is {}",
                cidr.network()
            ));
        }
        Ok(cidr)
    }

    fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & v4_mask(self.prefix)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & v6_mask(self.prefix)).into()),
        }
    }

    /// Whether the network holds `ip`; text that is not an address is never held.
    pub fn contains_text(&self, ip: &str) -> bool {
        parse_ip(ip).is_some_and(|ip| self.contains(ip))
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            // An IPv6 network holds no IPv4 address (and its prefix would
            // not fit one).
            (IpAddr::V6(_), IpAddr::V4(_)) => return false,
            (_, ip) => ip,
        };
        Cidr {
            addr: ip,
            prefix: self.prefix,
        }
        .network()
            == self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_read_as_the_standard_parser_reads_them() {
        let same = |t: &str| assert_eq!(parse_ip(t), t.parse::<IpAddr>().ok(), "{t:?}");
        for t in [
            "10.0.3.45",
            "0.0.0.0",
            "255.255.255.255",
            "256.0.0.1",
            "1.2.3",
            "1.2.3.4.",
            "1.2.3.4.5",
            "01.2.3.4",
            "1.02.3.4",
            "1.2.3.00",
            "1..3.4",
            ".1.2.3",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.-4",
            "1.2.3.1000",
            "0001.2.3.4",
            "",
            "::1",
            "::ffff:10.0.0.1",
            "fd00::1",
            "1.2.3.4/8",
            "١.2.3.4",
            "1.2.3.4\0",
            "999.1.1.1",
        ] {
            same(t);
        }
        // Random text over the bytes addresses are made of.
        let alphabet = b"0123456789.:af ";
        let mut seed: u64 = 7;
        for _ in 0..50_000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (seed >> 59) as usize;
            let text: String = (0..len)
                .map(|k| alphabet[((seed >> (k * 4 % 56)) & 0xf) as usize % alphabet.len()] as char)
                .collect();
            same(&text);
            // Dotted parts, near and past what an octet may be.
            let parts = [
                "0", "1", "00", "01", "10", "255", "256", "999", "1000", "", "7a",
            ];
            let n = 3 + (seed >> 40) as usize % 3;
            let quad: Vec<&str> = (0..n)
                .map(|k| parts[(seed >> (k * 5)) as usize % parts.len()])
                .collect();
            same(&quad.join("."));
        }
    }

    #[test]
    fn cidr_contains_and_rejects() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains_text("10.1.2.3"));
        assert!(!c.contains_text("11.1.2.3"));
        assert!(!c.contains_text("AWS Internal"));
        assert!(
            !c.contains_text("035.249.253.232"),
            "leading zeros are not an address"
        );
        assert!(c.contains_text("::ffff:10.0.0.1"));
        assert!(Cidr::parse("169.254.169.254")
            .unwrap()
            .contains_text("169.254.169.254"));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains_text("8.8.8.8"));
        assert!(Cidr::parse("fd00::/8").unwrap().contains_text("fd12::1"));
        // Mixed families: false, never a panic (an IPv4 address against a /128).
        assert!(!Cidr::parse("fd00:ec2::254/128")
            .unwrap()
            .contains_text("169.254.169.254"));
        assert!(!Cidr::parse("::/0").unwrap().contains_text("10.0.0.1"));
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().contains_text("fd00::1"));
        assert!(Cidr::parse("10.0.0.1/8").unwrap_err().contains("host bits"));
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0/8").is_err());
    }

    #[test]
    fn globs_translate() {
        let m = |g: &str, s: &str| {
            regex(&glob_to_regex(g).unwrap(), false)
                .unwrap()
                .is_match(s)
        };
        assert!(m("*.example.com", "a.example.com"));
        assert!(!m("*.example.com", "example.com"));
        assert!(m("xmr?g", "xmrig"));
        assert!(m("/proc/[0-9]*", "/proc/1/x"));
        assert!(!m("/proc/[!0-9]*", "/proc/1"));
        assert!(m("a.b", "a.b") && !m("a.b", "axb"));
        assert!(glob_to_regex("[abc").is_err());
    }

    #[test]
    fn regex_limits() {
        assert!(regex("(a", false).is_err());
        assert!(regex("a{1000}{1000}", false).is_err(), "size limit applies");
        assert!(regex("(?i)xmrig", false).unwrap().is_match("XMRig"));
        assert!(regex("xmrig", true).unwrap().is_match("XMRIG"));
    }

    #[test]
    fn valid_regexes_are_those_that_build() {
        let cases = [
            ("(a", false),
            ("a{1000}{1000}", false),
            // Near the size limit: the forward NFA fits, so the answer
            // turns on the same limit in both.
            ("[a-z]{3000}", true),
            ("\\p{Greek}{500}", false),
            (r"\bword\b", true),
            ("^app-1-[a-z0-9]+$", false),
            ("miner|xmrig", true),
            ("(?i)xmrig", false),
            ("a**", false),
            (r"\x{110000}", false),
        ];
        for (p, ci) in cases {
            assert_eq!(regex(p, ci).err(), regex_valid(p, ci).err(), "{p}");
        }
        // Only literals: the full regex is its prefilter and builds no NFA,
        // where the lean one's NFA exceeds the limit. Valid all the same.
        let words = (0..5000).map(|i| format!("word{i}x")).collect::<Vec<_>>();
        assert!(regex_valid(&words.join("|"), false).is_ok());
    }
}
