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
