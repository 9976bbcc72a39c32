//! Hosts as the rules about them see them: loopback (plain `http` allowed in development), and a
//! URL's host as errors name it.

use url::{Host, Url};

/// `localhost`, `127.0.0.1` (any of `127.0.0.0/8`) or `[::1]`: the hosts reached over plain
/// `http` in development and tests.
pub(crate) fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A URL's host as errors name it: `login.example`, or `127.0.0.1:8080` when the port is not the
/// scheme's.
pub(crate) fn host_label(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Whether `ip` is an address outbound calls configured by administrators (webhooks) must not
/// reach unless allowed: loopback, private (RFC 1918, unique local `fc00::/7`), link-local
/// (`169.254.0.0/16`, `fe80::/10`, where cloud metadata services live), shared address space
/// (`100.64.0.0/10`), unspecified, broadcast, multicast and documentation ranges; an IPv4 address
/// mapped into IPv6 is judged as IPv4.
pub fn is_restricted_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_restricted_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
        }
    }
}

/// Whether `host` (of a URL) names this machine or a restricted address by itself: `localhost`
/// (and its subdomains) or an IP literal that [`is_restricted_address`] refuses. Other names are
/// judged on what they resolve to, when called.
pub fn is_restricted_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(domain) => {
            let domain = domain.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost") || is_loopback_host(host)
        }
        Host::Ipv4(ip) => is_restricted_address((*ip).into()),
        Host::Ipv6(ip) => is_restricted_address((*ip).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_private_link_local_and_metadata_addresses_are_restricted() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_restricted_address(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_restricted_address(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn localhost_names_and_restricted_literals_are_restricted_hosts() {
        for url in [
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://10.0.0.1/",
        ] {
            let url = url::Url::parse(url).unwrap();
            assert!(is_restricted_host(&url.host().unwrap()), "{url}");
        }
        let url = url::Url::parse("https://hooks.example.com/").unwrap();
        assert!(!is_restricted_host(&url.host().unwrap()));
    }
}
