//! Where a webhook may be sent: a receiver on the public internet, never scimd's own
//! network (loopback, private, link-local, unique-local, unspecified, cloud metadata), in
//! whatever spelling (`0x7f000001`, `2130706433`, `[::ffff:127.0.0.1]` …), unless an operator
//! allowed private receivers. A URL's host is checked when the endpoint is made and before
//! each send; a name is checked again on the addresses it resolves to when the connection
//! is made ([`PublicResolver`]), so a name that later resolves inward (DNS rebinding) is
//! refused too.

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use futures_util::future::LocalBoxFuture;

/// The host of a URL: an address (however written) or a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetHost {
    Address(IpAddr),
    Name(String),
}

/// Why a target may not be sent to, in words a receiver's owner understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotPublic(pub String);

impl fmt::Display for NotPublic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for NotPublic {}

/// What kind of non-public address `ip` is; `None` for a public one.
pub fn non_public_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified (this-network) address",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "a private address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address (cloud metadata lives there)",
        (192, 0, 0) | (192, 88, 99) => "a reserved protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let [s0, s1, s2, s3, s4, s5, _, _] = s;
    let embedded_v4 = || {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    };
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    // IPv4 inside IPv6 (mapped, compatible, NAT64): what counts is the IPv4 address.
    if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 && s4 == 0 && (s5 == 0xffff || s5 == 0) {
        return v4_kind(embedded_v4()).or(if s5 == 0 {
            Some("a deprecated IPv4-compatible address")
        } else {
            None
        });
    }
    if s0 == 0x64 && s1 == 0xff9b && s2 == 0 && s3 == 0 && s4 == 0 && s5 == 0 {
        return v4_kind(embedded_v4());
    }
    if s0 == 0x64 && s1 == 0xff9b && s2 == 1 {
        return Some("a local-use NAT64 address");
    }
    if s0 == 0x2002 {
        // 6to4: the IPv4 address is in the second and third groups.
        let [_, _, a, b, c, d, ..] = ip.octets();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    Some(match s0 {
        0x0100 if s1 == 0 && s2 == 0 && s3 == 0 => "a discard-only address",
        0x2001 if s1 == 0x0db8 => "a documentation address",
        0x3fff if s1 < 0x1000 => "a documentation address",
        x if x & 0xfe00 == 0xfc00 => "a unique-local (private) address",
        x if x & 0xffc0 == 0xfe80 => "a link-local address",
        x if x & 0xffc0 == 0xfec0 => "a site-local (private) address",
        x if x & 0xff00 == 0xff00 => "a multicast address",
        _ => return None,
    })
}

/// A dotted IPv4 address as the C library reads one (`inet_aton`): one to four parts,
/// each decimal, octal (leading 0) or hex (0x), the last filling the remaining bytes. So
/// `2130706433`, `0x7f000001`, `0177.1` and `127.1` all name 127.0.0.1 to a resolver.
/// `None`: not numeric (a name); `Some(None)`: numeric but no address.
fn loose_ipv4(host: &str) -> Option<Option<Ipv4Addr>> {
    let mut numbers = Vec::with_capacity(4);
    for part in host.split('.') {
        match loose_number(part)? {
            Some(n) => numbers.push(n),
            None => return Some(None),
        }
    }
    let (last, leading) = numbers.split_last()?;
    if leading.len() > 3 || leading.iter().any(|n| *n > 255) {
        return Some(None);
    }
    // The last part fills the bytes the others leave: 32, 24, 16 or 8 bits.
    let bits = 32 - 8 * u32::try_from(leading.len()).unwrap_or(3);
    if *last >= (1u64 << bits) {
        return Some(None);
    }
    let mut value: u64 = *last;
    for (i, n) in (0u32..).zip(leading) {
        value |= n << (24 - 8 * i);
    }
    Some(u32::try_from(value).ok().map(Ipv4Addr::from))
}

/// One part of a loose IPv4 address: `None` if it is not numeric at all, `Some(None)` if it
/// is but has no value (`09`, too large).
fn loose_number(part: &str) -> Option<Option<u64>> {
    let lower = part.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return Some(if hex.is_empty() {
            Some(0)
        } else {
            u64::from_str_radix(hex, 16).ok()
        });
    }
    if lower.is_empty() || !lower.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match lower.strip_prefix('0') {
        Some("") => Some(Some(0)),
        Some(octal) if octal.chars().all(|c| ('0'..='7').contains(&c)) => {
            Some(u64::from_str_radix(octal, 8).ok())
        }
        Some(_) => Some(None),
        None => Some(lower.parse().ok()),
    }
}

/// The host of a URL, read as a resolver would read it.
pub fn target_host(host: &str) -> Result<TargetHost, NotPublic> {
    let host = host.trim_end_matches('.');
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(|ip| TargetHost::Address(IpAddr::V6(ip)))
            .map_err(|_| NotPublic(format!("{host:?} is not an IPv6 address")));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(TargetHost::Address(ip));
    }
    match loose_ipv4(host) {
        Some(Some(ip)) => Ok(TargetHost::Address(IpAddr::V4(ip))),
        Some(None) => Err(NotPublic(format!("{host:?} is not a valid address"))),
        None => Ok(TargetHost::Name(host.to_ascii_lowercase())),
    }
}

/// Why a host name is not a public receiver's: names that only mean something inside a
/// network (cloud metadata, localhost, reserved private suffixes, a name without a dot).
fn name_kind(name: &str) -> Option<&'static str> {
    const METADATA: [&str; 5] = [
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    ];
    if METADATA.contains(&name) {
        return Some("a cloud metadata service");
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return Some("this machine");
    }
    const PRIVATE_SUFFIXES: [&str; 4] = [".internal", ".local", ".localdomain", ".home.arpa"];
    if PRIVATE_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Some("a name reserved for private networks");
    }
    if !name.contains('.') {
        return Some("a name without a domain (resolved inside the local network)");
    }
    None
}

/// Whether a URL's host may be sent to: `Err` with the reason when it is not public (and
/// private ones are not allowed).
pub fn check_host(host: &str, allow_private: bool) -> Result<TargetHost, NotPublic> {
    let target = target_host(host)?;
    if allow_private {
        return Ok(target);
    }
    let kind = match &target {
        TargetHost::Address(ip) => non_public_kind(*ip),
        TargetHost::Name(name) => name_kind(name),
    };
    match kind {
        Some(kind) => Err(NotPublic(format!(
            "{host} is {kind}; webhook receivers must be on a public address"
        ))),
        None => Ok(target),
    }
}

/// Resolves receivers' names for the webhook sender's connections and refuses, unless
/// private receivers are allowed, a name with any non-public address: the addresses it
/// returns are the ones connected to, so a name cannot resolve public when checked and
/// private when used.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    pub allow_private: bool,
}

impl actix_tls::connect::Resolve for PublicResolver {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> LocalBoxFuture<'a, Result<Vec<SocketAddr>, Box<dyn StdError>>> {
        Box::pin(async move {
            check_host(host, self.allow_private).map_err(Box::new)?;
            let name = host.to_string();
            let addrs: Vec<SocketAddr> = actix_web::rt::task::spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), port))
                    .map(Iterator::collect::<Vec<_>>)
            })
            .await
            .map_err(|_| NotPublic(format!("could not resolve {host}")))?
            .map_err(|_| NotPublic(format!("could not resolve {host}")))?;
            if !self.allow_private {
                if let Some((addr, kind)) = addrs
                    .iter()
                    .find_map(|a| non_public_kind(a.ip()).map(|k| (a.ip(), k)))
                {
                    return Err(Box::new(NotPublic(format!(
                        "{host} resolves to {addr}, {kind}; webhook receivers must be on a public address"
                    ))) as Box<dyn StdError>);
                }
            }
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_an_inside_address_is_refused() {
        for host in [
            "127.0.0.1",
            "127.1",
            "0177.0.0.1",
            "0x7f000001",
            "0x7f.0.0.1",
            "2130706433",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[64:ff9b::a9fe:a9fe]",
            "[2002:a9fe:a9fe::1]",
            "169.254.169.254",
            "10.0.0.1",
            "10.1",
            "172.16.5.4",
            "192.168.1.1",
            "100.64.0.1",
            "0.0.0.0",
            "0",
            "[::]",
            "[fd00::1]",
            "[fe80::1]",
            "[ff02::1]",
            "224.0.0.1",
            "255.255.255.255",
            "metadata.google.internal",
            "metadata.google.internal.",
            "localhost",
            "api.localhost",
            "printer.local",
            "intranet",
            "999.1.1.1",
            "[not-v6]",
        ] {
            assert!(check_host(host, false).is_err(), "{host} was allowed");
        }
    }

    #[test]
    fn public_hosts_pass_and_the_operator_may_allow_private() {
        for host in [
            "app.example.com",
            "93.184.216.34",
            "[2606:2800:220:1:248:1893:25c8:1946]",
            "1e100.net",
            "0x.example.com",
            "8.8.8.8",
        ] {
            assert!(check_host(host, false).is_ok(), "{host} was refused");
        }
        assert!(check_host("127.0.0.1", true).is_ok());
        assert!(check_host("[fd00::1]", true).is_ok());
    }

    #[test]
    fn numeric_hosts_read_as_the_c_library_reads_them() {
        let v4 = |h: &str| match target_host(h) {
            Ok(TargetHost::Address(IpAddr::V4(ip))) => Some(ip),
            _ => None,
        };
        assert_eq!(v4("2130706433"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("0x7f000001"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("127.1"), Some(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(v4("0300.0250.1.1"), Some(Ipv4Addr::new(192, 168, 1, 1)));
        assert_eq!(v4("10.0x10.1"), Some(Ipv4Addr::new(10, 16, 0, 1)));
        assert_eq!(
            target_host("app.example.com"),
            Ok(TargetHost::Name("app.example.com".into()))
        );
    }
}
