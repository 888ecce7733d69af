//! Checks of a receiver's push `endpoint_url` when a stream is created or changed.
//!
//! Only what the URL itself says is checked here: scheme, credentials, and literal IP
//! addresses in internal ranges. Host names are resolved and checked again by the delivery
//! worker at connect time (a name can point anywhere, and can change).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const MAX_URL_LEN: usize = 2048;

/// Why a push endpoint is refused; the message is shown to the receiver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct EndpointRejected(pub String);

/// Accepts `url` as a push endpoint, or says why not. With `allow_insecure`, plain http and
/// internal addresses pass (development and trusted internal receivers).
pub fn check_push_endpoint(url: &str, allow_insecure: bool) -> Result<(), EndpointRejected> {
    let reject = |m: &str| Err(EndpointRejected(m.to_owned()));
    if url.len() > MAX_URL_LEN {
        return reject("endpoint_url is too long");
    }
    let parsed = match url::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => {
            return Err(EndpointRejected(format!(
                "endpoint_url is not a valid URL: {e}"
            )));
        }
    };
    match parsed.scheme() {
        "https" => {}
        "http" if allow_insecure => {}
        _ => return reject("endpoint_url must use https"),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return reject(
            "endpoint_url must not contain credentials; use delivery.authorization_header",
        );
    }
    if parsed.fragment().is_some() {
        return reject("endpoint_url must not contain a fragment");
    }
    let Some(host) = parsed.host() else {
        return reject("endpoint_url has no host");
    };
    if allow_insecure {
        return Ok(());
    }
    let internal = match host {
        url::Host::Ipv4(ip) => is_internal(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => is_internal(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    };
    if internal {
        return reject("endpoint_url points at a loopback, private or link-local address");
    }
    Ok(())
}

/// Addresses a transmitter must not be made to call: loopback, private (RFC 1918), CGNAT,
/// link-local, unique-local, unspecified, multicast, broadcast and similar non-global ranges.
/// IPv4-mapped and IPv4-compatible IPv6 addresses are judged as their IPv4 address.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal_v4(v4),
            None => is_internal_v6(v6),
        },
    }
}

fn is_internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // 100.64.0.0/10 carrier-grade NAT
        || (a == 100 && (64..128).contains(&b))
        // 192.0.0.0/24 IETF protocol assignments
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        // 198.18.0.0/15 benchmarking
        || (a == 198 && (18..20).contains(&b))
        // 240.0.0.0/4 reserved
        || a >= 240
}

fn is_internal_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // fc00::/7 unique local
        || (first & 0xfe00) == 0xfc00
        // fe80::/10 link local
        || (first & 0xffc0) == 0xfe80
        // fec0::/10 deprecated site local
        || (first & 0xffc0) == 0xfec0
        // 2001:db8::/32 documentation
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // 64:ff9b:1::/48 local-use NAT64
        || (first == 0x0064 && ip.segments()[1] == 0xff9b && ip.segments()[2] == 1)
        // ::/96 IPv4-compatible (deprecated): judge the embedded IPv4 address
        || (ip.segments()[..6].iter().all(|s| *s == 0) && is_internal_v4(Ipv4Addr::from((ip.to_bits() & 0xffff_ffff) as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_https_endpoints_pass() {
        for url in [
            "https://receiver.example.com/events",
            "https://203.0.114.1/x",
            "https://[2606:4700::1]/e",
            "https://example.com:8443/a?b=c",
        ] {
            assert_eq!(check_push_endpoint(url, false), Ok(()), "{url}");
        }
    }

    #[test]
    fn internal_and_insecure_endpoints_are_refused() {
        for url in [
            "http://receiver.example.com/events",
            "ftp://receiver.example.com/",
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://172.16.0.1/x",
            "https://192.168.1.1/x",
            "https://100.64.0.1/x",
            "https://169.254.169.254/latest/meta-data",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://localhost/x",
            "https://api.localhost./x",
            "https://user:pw@example.com/x",
            "https://example.com/x#frag",
            "not a url",
        ] {
            assert!(check_push_endpoint(url, false).is_err(), "{url}");
        }
    }

    #[test]
    fn insecure_mode_allows_http_and_internal() {
        assert_eq!(
            check_push_endpoint("http://127.0.0.1:8080/events", true),
            Ok(())
        );
        assert!(check_push_endpoint("ftp://127.0.0.1/", true).is_err());
        assert!(check_push_endpoint("http://u:p@127.0.0.1/", true).is_err());
    }
}
