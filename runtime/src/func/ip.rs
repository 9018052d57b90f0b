//! Address classes: private (RFC 1918, RFC 4193) and loopback.

use std::net::IpAddr;

/// An address as `in cidr` reads it: an IPv4-mapped IPv6 address
/// (`::ffff:10.0.0.1`) is its IPv4 address.
pub fn parse(s: &str) -> Option<IpAddr> {
    ward_compiler::pattern::parse_ip(s).map(|ip| ip.to_canonical())
}

/// 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16 (RFC 1918) and fc00::/7
/// (RFC 4193 unique local). Not 100.64.0.0/10: shared address space
/// (RFC 6598) is a carrier's, not the site's; nor link-local addresses.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xfe00 == 0xfc00,
    }
}

/// 127.0.0.0/8 and ::1.
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> Option<(bool, bool)> {
        let ip = parse(s)?;
        Some((is_private(ip), is_loopback(ip)))
    }

    #[test]
    fn ipv4_classes() {
        for (s, private, loopback) in [
            ("10.0.0.0", true, false),
            ("10.255.255.255", true, false),
            ("172.15.255.255", false, false),
            ("172.16.0.1", true, false),
            ("172.31.255.255", true, false),
            ("172.32.0.0", false, false),
            ("192.168.1.1", true, false),
            ("192.169.0.1", false, false),
            ("100.64.0.1", false, false),
            ("100.127.255.255", false, false),
            ("169.254.169.254", false, false),
            ("127.0.0.1", false, true),
            ("127.255.0.9", false, true),
            ("8.8.8.8", false, false),
            ("0.0.0.0", false, false),
        ] {
            assert_eq!(class(s), Some((private, loopback)), "{s}");
        }
    }

    #[test]
    fn ipv6_classes() {
        for (s, private, loopback) in [
            ("fc00::1", true, false),
            ("fd12:3456:789a::1", true, false),
            ("fdff:ffff::", true, false),
            ("fe00::1", false, false),
            ("fe80::1", false, false),
            ("fbff::1", false, false),
            ("::1", false, true),
            ("::", false, false),
            ("2001:db8::1", false, false),
            // IPv4-mapped addresses are their IPv4 address.
            ("::ffff:10.1.2.3", true, false),
            ("::ffff:127.0.0.1", false, true),
            ("::ffff:8.8.8.8", false, false),
        ] {
            assert_eq!(class(s), Some((private, loopback)), "{s}");
        }
    }

    #[test]
    fn text_that_is_no_address_has_no_class() {
        for s in [
            "",
            "AWS Internal",
            "eks.amazonaws.com",
            "10.0.0.1:443",
            "10.0.0.0/8",
            "fe80::1%eth0",
            "010.0.0.1",
        ] {
            assert_eq!(class(s), None, "{s}");
        }
    }
}
