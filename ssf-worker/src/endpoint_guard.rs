//! SSRF guard: push endpoints must not reach the transmitter's own network.
//!
//! The check runs where the address is chosen, at connect time: [`GuardedResolver`] is the HTTP
//! client's DNS resolver, so a host name that resolves to 127.0.0.1 or 169.254.169.254 (or
//! starts doing so after the stream was created: DNS rebinding) is refused. URLs with an IP
//! literal never reach a resolver; [`check_literal_host`] covers them before sending.
//!
//! Refused: loopback, private (RFC 1918), link-local (cloud metadata), CGNAT, unspecified,
//! multicast, broadcast and other non-global IPv4 ranges; IPv6 loopback, ULA, link-local,
//! multicast and documentation ranges, and IPv6 addresses embedding a refused IPv4 address
//! (IPv4-mapped, NAT64, 6to4) after canonicalisation. An allow-list of networks lets an
//! operator trust internal receivers.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Which addresses a push may connect to.
#[derive(Debug, Clone)]
pub struct EndpointPolicy {
    allow_insecure: bool,
    allowed_networks: Arc<Vec<IpNet>>,
}

/// A push endpoint that resolves only to refused addresses.
#[derive(Debug, Clone, thiserror::Error)]
#[error("endpoint host {host} resolves to {address}, a {kind} address; refused (SSRF guard)")]
pub struct BlockedEndpoint {
    pub host: String,
    pub address: IpAddr,
    pub kind: &'static str,
}

impl EndpointPolicy {
    /// `allow_insecure` turns the guard off (tests and trusted deployments).
    pub fn new(allow_insecure: bool, allowed_networks: Vec<IpNet>) -> Self {
        Self {
            allow_insecure,
            allowed_networks: Arc::new(allowed_networks),
        }
    }

    pub fn allows_insecure(&self) -> bool {
        self.allow_insecure
    }

    /// `Err` names why `address` may not be connected to.
    pub fn check(&self, host: &str, address: IpAddr) -> Result<(), BlockedEndpoint> {
        if self.allow_insecure {
            return Ok(());
        }
        let address = canonical(address);
        if self
            .allowed_networks
            .iter()
            .any(|net| net.contains(&address))
        {
            return Ok(());
        }
        match refused_kind(address) {
            Some(kind) => Err(BlockedEndpoint {
                host: host.to_owned(),
                address,
                kind,
            }),
            None => Ok(()),
        }
    }
}

/// Checks a URL whose host is an IP literal (no resolver runs for those).
pub fn check_literal_host(policy: &EndpointPolicy, url: &url::Url) -> Result<(), BlockedEndpoint> {
    match url.host() {
        Some(url::Host::Ipv4(v4)) => policy.check(&v4.to_string(), IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => policy.check(&v6.to_string(), IpAddr::V6(v6)),
        _ => Ok(()),
    }
}

/// IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible forms become the IPv4 address they carry.
pub fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// Why an address is not a public unicast address, or `None` when it is one.
pub fn refused_kind(address: IpAddr) -> Option<&'static str> {
    match canonical(address) {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => refused_v6(v6),
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified")
    } else if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local")
    } else if a == 100 && (64..128).contains(&b) {
        Some("CGNAT")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || a >= 240 {
        Some("reserved")
    } else if (a == 192 && b == 0 && c == 0) || (a == 198 && (18..20).contains(&b)) {
        Some("special-purpose")
    } else if ip.is_documentation() {
        Some("documentation")
    } else {
        None
    }
}

fn refused_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let segments = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_multicast() {
        return Some("multicast");
    }
    if segments[0] & 0xfe00 == 0xfc00 {
        return Some("unique local (ULA)");
    }
    if segments[0] & 0xffc0 == 0xfe80 || segments[0] & 0xffc0 == 0xfec0 {
        return Some("link-local");
    }
    if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        return Some("documentation");
    }
    // IPv4-compatible (deprecated ::a.b.c.d) and NAT64 (64:ff9b::/96) carry an IPv4 address in
    // the last 32 bits; 6to4 (2002::/16) carries one in bits 16..48.
    let last_v4 = Ipv4Addr::new(
        (segments[6] >> 8) as u8,
        segments[6] as u8,
        (segments[7] >> 8) as u8,
        segments[7] as u8,
    );
    if segments[..6].iter().all(|s| *s == 0) {
        return refused_v4(last_v4).or(Some("IPv4-compatible"));
    }
    if segments[0] == 0x0064 && segments[1] == 0xff9b {
        return refused_v4(last_v4);
    }
    if segments[0] == 0x2002 {
        let embedded = Ipv4Addr::new(
            (segments[1] >> 8) as u8,
            segments[1] as u8,
            (segments[2] >> 8) as u8,
            segments[2] as u8,
        );
        return refused_v4(embedded);
    }
    None
}

/// The push client's DNS resolver: the system resolver, minus refused addresses.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: EndpointPolicy,
}

impl GuardedResolver {
    pub fn new(policy: EndpointPolicy) -> Self {
        Self { policy }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut first_refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check(&host, addr.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        first_refusal.get_or_insert(refused);
                        false
                    }
                })
                .collect();
            // Only addresses that passed are ever connected to; a name with none is refused.
            match (allowed.is_empty(), first_refusal) {
                (true, Some(refused)) => {
                    Err(Box::new(refused) as Box<dyn std::error::Error + Send + Sync>)
                }
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

/// Finds a [`BlockedEndpoint`] anywhere in an error's source chain.
pub fn find_blocked<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a BlockedEndpoint> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(blocked) = error.downcast_ref::<BlockedEndpoint>() {
            return Some(blocked);
        }
        current = error.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> bool {
        refused_kind(text.parse().unwrap()).is_some()
    }

    #[test]
    fn internal_ipv4_ranges_are_refused() {
        for address in [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
        ] {
            assert!(refused(address), "{address} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "2606:4700:4700::1111",
        ] {
            assert!(!refused(address), "{address} must pass");
        }
    }

    #[test]
    fn internal_ipv6_ranges_are_refused() {
        for address in [
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
        ] {
            assert!(refused(address), "{address} must be refused");
        }
    }

    #[test]
    fn ipv6_forms_of_internal_ipv4_are_refused() {
        for address in [
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
        ] {
            assert!(refused(address), "{address} must be refused");
        }
        assert!(!refused("::ffff:8.8.8.8"));
        assert!(!refused("64:ff9b::808:808"));
        assert_eq!(
            canonical("::ffff:10.0.0.1".parse().unwrap()),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn allow_list_and_insecure_mode_override() {
        let guarded = EndpointPolicy::new(false, vec!["10.1.0.0/16".parse().unwrap()]);
        assert!(guarded.check("h", "10.1.2.3".parse().unwrap()).is_ok());
        assert!(
            guarded
                .check("h", "::ffff:10.1.2.3".parse().unwrap())
                .is_ok(),
            "canonicalised before the allow-list"
        );
        let error = guarded
            .check("metadata", "169.254.169.254".parse().unwrap())
            .unwrap_err();
        assert_eq!(error.kind, "link-local");
        assert!(error.to_string().contains("metadata"));
        assert!(
            EndpointPolicy::new(true, vec![])
                .check("h", "127.0.0.1".parse().unwrap())
                .is_ok()
        );
    }

    #[test]
    fn literal_hosts_are_checked() {
        let policy = EndpointPolicy::new(false, vec![]);
        assert!(check_literal_host(&policy, &"http://127.0.0.1:8080/x".parse().unwrap()).is_err());
        assert!(check_literal_host(&policy, &"http://[::ffff:7f00:1]/x".parse().unwrap()).is_err());
        assert!(check_literal_host(&policy, &"https://8.8.8.8/x".parse().unwrap()).is_ok());
        assert!(
            check_literal_host(&policy, &"https://receiver.example/x".parse().unwrap()).is_ok()
        );
    }

    #[tokio::test]
    async fn resolver_refuses_names_of_loopback() {
        let resolver = GuardedResolver::new(EndpointPolicy::new(false, vec![]));
        let error = match resolver.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(error) => error,
        };
        assert!(find_blocked(error.as_ref()).is_some(), "{error}");
        let open = GuardedResolver::new(EndpointPolicy::new(true, vec![]));
        let addresses: Vec<_> = open
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(!addresses.is_empty());
    }
}
