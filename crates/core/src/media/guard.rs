//! Which addresses the server may call: media URLs it fetches and webhook URLs it
//! posts to. A URL a client gives must not make wagate reach into its own network (a
//! database, a cloud metadata service at 169.254.169.254, an admin port on localhost),
//! so every address a host resolves to is checked, and the connection goes to exactly
//! the checked addresses. The allow-list opens named hosts or networks where an
//! operator (or a test) wants them. Its reasons name no caller, so each can tell them
//! in its own words.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context;
use ipnet::IpNet;

use super::MediaError;

/// Hosts and networks that may be called although they are private.
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    /// Lower-case host names, without a trailing dot.
    hosts: Vec<String>,
    networks: Vec<IpNet>,
}

impl AllowList {
    /// Host names as written (`media.internal`) and networks in CIDR form
    /// (`10.1.0.0/16`, `127.0.0.1/32`, `fd00::/8`).
    pub fn parse<H, N>(hosts: H, networks: N) -> anyhow::Result<Self>
    where
        H: IntoIterator,
        H::Item: AsRef<str>,
        N: IntoIterator,
        N::Item: AsRef<str>,
    {
        let hosts = hosts.into_iter().map(|h| normal_host(h.as_ref())).filter(|h| !h.is_empty()).collect();
        let networks = networks
            .into_iter()
            .map(|n| {
                let n = n.as_ref().trim();
                n.parse::<IpNet>()
                    .or_else(|_| n.parse::<IpAddr>().map(IpNet::from))
                    .with_context(|| format!("{n:?} is not a network (like 10.0.0.0/8) or an address"))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { hosts, networks })
    }

    fn allows_host(&self, host: &str) -> bool {
        let host = normal_host(host);
        self.hosts.contains(&host)
    }

    fn allows_ip(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|net| net.contains(&ip))
    }
}

fn normal_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// IPv4 addresses written as IPv6 (`::ffff:127.0.0.1`) are the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why an address must not be called without the allow-list, or `None` for a public
/// address.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        (100, 64..=127, _) => "shared (CGNAT)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        (192, 0, 0) => "reserved",
        (198, 18..=19, _) => "benchmarking",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    let segments = ip.segments();
    // Forms that carry an IPv4 address inside: IPv4-compatible (::a.b.c.d), NAT64
    // (64:ff9b::/96) and 6to4 (2002::/16). They reach that IPv4 address.
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if segments[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return non_public_v4(embedded(segments[6], segments[7]));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return non_public_v4(embedded(segments[6], segments[7]));
    }
    if segments[0] == 0x2002 {
        return non_public_v4(embedded(segments[1], segments[2]));
    }
    Some(match segments[0] {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        s if s & 0xfe00 == 0xfc00 => "private (ULA)",
        s if s & 0xffc0 == 0xfe80 => "link-local",
        s if s & 0xffc0 == 0xfec0 => "site-local",
        _ if ip.is_multicast() => "multicast",
        0x2001 if segments[1] == 0x0db8 => "documentation",
        _ => return None,
    })
}

/// Refuses `ip` unless it is public or allow-listed.
pub fn check_ip(ip: IpAddr, allow: &AllowList) -> Result<(), MediaError> {
    match non_public(ip) {
        Some(why) if !allow.allows_ip(ip) => Err(MediaError::Refused(format!(
            "{ip} is a {why} address; the server does not call it unless the allow-list (allow_networks) names it"
        ))),
        _ => Ok(()),
    }
}

/// The addresses to connect to for `host`, each of them checked. An IP literal is
/// checked as it is; a name is resolved once, and refused if any address it resolves
/// to is refused (a name with one public and one private address is an attack, not a
/// mistake). The caller connects to these addresses only, so a second lookup that
/// answers differently (DNS rebinding) never happens.
pub async fn resolve(host: &url::Host<&str>, port: u16, allow: &AllowList) -> Result<Vec<SocketAddr>, MediaError> {
    let name = match host {
        url::Host::Ipv4(v4) => return checked(vec![SocketAddr::new(IpAddr::V4(*v4), port)], allow),
        url::Host::Ipv6(v6) => return checked(vec![SocketAddr::new(IpAddr::V6(*v6), port)], allow),
        url::Host::Domain(name) => *name,
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|e| MediaError::Unreachable(format!("cannot resolve {name}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(MediaError::Unreachable(format!("{name} has no address")));
    }
    if allow.allows_host(name) {
        return Ok(addrs);
    }
    checked(addrs, allow).map_err(|e| match e {
        MediaError::Refused(why) => MediaError::Refused(format!("{name} resolves to {why}")),
        other => other,
    })
}

fn checked(addrs: Vec<SocketAddr>, allow: &AllowList) -> Result<Vec<SocketAddr>, MediaError> {
    for addr in &addrs {
        check_ip(addr.ip(), allow)?;
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(ip: &str) -> bool {
        let ip: IpAddr = ip.parse().expect("an address");
        matches!(check_ip(ip, &AllowList::default()), Err(MediaError::Refused(_)))
    }

    #[test]
    fn private_loopback_and_link_local_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "127.255.0.9",
            "::1",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
        ] {
            assert!(refused(ip), "{ip} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"] {
            assert!(!refused(ip), "{ip} is public");
        }
    }

    #[test]
    fn allow_listed_networks_pass_and_others_stay_refused() {
        let allow = AllowList::parse(["Media.Internal."], ["127.0.0.1/32", "10.1.0.0/16", "fd00::/8"]).unwrap();

        for ip in ["127.0.0.1", "::ffff:127.0.0.1", "10.1.2.3", "fd00::5"] {
            assert!(check_ip(ip.parse().unwrap(), &allow).is_ok(), "{ip} is allow-listed");
        }
        for ip in ["127.0.0.2", "10.2.0.1", "169.254.169.254", "::1"] {
            assert!(check_ip(ip.parse().unwrap(), &allow).is_err(), "{ip} is not allow-listed");
        }
        assert!(allow.allows_host("media.internal"));
        assert!(!allow.allows_host("localhost"));
    }

    #[test]
    fn a_bad_network_is_refused_at_start() {
        let err = AllowList::parse(Vec::<String>::new(), ["10.0.0.0/33"]).unwrap_err();
        assert!(err.to_string().contains("10.0.0.0/33"), "{err}");
        assert!(AllowList::parse(Vec::<String>::new(), ["192.168.0.7"]).is_ok(), "a bare address is a /32");
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let err = resolve(&url::Host::Domain("localhost"), 80, &AllowList::default()).await.unwrap_err();

        match err {
            MediaError::Refused(why) => assert!(why.starts_with("localhost resolves to"), "{why}"),
            other => panic!("expected Refused, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_allow_listed_host_name_passes() {
        let allow = AllowList::parse(["localhost"], Vec::<String>::new()).unwrap();

        let addrs = resolve(&url::Host::Domain("localhost"), 8080, &allow).await.unwrap();

        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 8080), "{addrs:?}");
    }
}
