//! The relying party this server is for passkeys: its id and origin come from the issuer (the
//! public URL). Imports nothing of the App, which holds one.

use webauthn_rs::prelude::Url;
use webauthn_rs::{Webauthn, WebauthnBuilder};

/// Why this server offers no passkeys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The issuer is not a URL with a host.
    #[error("the public URL {0:?} has no host name")]
    NoHost(String),
    /// The issuer's host is an IP address: a relying party id is a domain name.
    #[error(
        "the public URL's host {0} is an IP address, and passkeys need a domain name: set \
         --public-url to https://your.domain (or http://localhost:PORT to try them locally)"
    )]
    IpAddress(String),
    /// Browsers use passkeys only on secure origins: https, or http on localhost.
    #[error(
        "the public URL {0} is not https: browsers offer passkeys only on https origins (or \
         http://localhost)"
    )]
    NotSecure(String),
    /// webauthn-rs refused the relying party.
    #[error("webauthn refused the relying party {0}")]
    Refused(String),
}

/// The relying party: its id (the issuer's host), its origin (the issuer's scheme, host and
/// port) and webauthn-rs configured with them.
pub struct RelyingParty {
    pub(crate) webauthn: Webauthn,
    /// The relying party id: the issuer's host name.
    pub id: String,
    /// The one origin ceremonies are accepted from.
    pub origin: Url,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty")
            .field("id", &self.id)
            .field("origin", &self.origin.as_str())
            .finish()
    }
}

impl RelyingParty {
    /// The relying party of the server reachable at `issuer`: id = its host, origin = its
    /// scheme, host and port. Refused for an IP address (a relying party id is a domain) and
    /// for http anywhere but `localhost`, where browsers would refuse the ceremonies anyway.
    pub fn for_issuer(issuer: &str) -> Result<RelyingParty, Unavailable> {
        let url = Url::parse(issuer).map_err(|_| Unavailable::NoHost(issuer.to_owned()))?;
        let host = match url.host() {
            Some(url::Host::Domain(domain)) => domain.to_owned(),
            Some(ip) => return Err(Unavailable::IpAddress(ip.to_string())),
            None => return Err(Unavailable::NoHost(issuer.to_owned())),
        };
        let localhost = host == "localhost" || host.ends_with(".localhost");
        if url.scheme() != "https" && !(url.scheme() == "http" && localhost) {
            return Err(Unavailable::NotSecure(issuer.to_owned()));
        }
        let origin = Url::parse(&url.origin().ascii_serialization())
            .map_err(|_| Unavailable::NoHost(issuer.to_owned()))?;
        let webauthn = WebauthnBuilder::new(&host, &origin)
            .and_then(|builder| builder.build())
            .map_err(|error| Unavailable::Refused(format!("{host}: {error}")))?;
        Ok(RelyingParty {
            webauthn,
            id: host,
            origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_issuers_host_and_origin() {
        let rp = RelyingParty::for_issuer("https://id.example.com/tenant").unwrap();
        assert_eq!(rp.id, "id.example.com");
        assert_eq!(rp.origin.as_str(), "https://id.example.com/");
        let rp = RelyingParty::for_issuer("http://localhost:8080").unwrap();
        assert_eq!(rp.id, "localhost");
        assert_eq!(rp.origin.as_str(), "http://localhost:8080/");
    }

    #[test]
    fn an_ip_address_or_plain_http_cannot_be_a_relying_party() {
        assert!(matches!(
            RelyingParty::for_issuer("http://127.0.0.1:8080"),
            Err(Unavailable::IpAddress(_))
        ));
        assert!(matches!(
            RelyingParty::for_issuer("https://[::1]:8443"),
            Err(Unavailable::IpAddress(_))
        ));
        assert!(matches!(
            RelyingParty::for_issuer("http://id.example.com"),
            Err(Unavailable::NotSecure(_))
        ));
        assert!(matches!(
            RelyingParty::for_issuer("not a url"),
            Err(Unavailable::NoHost(_))
        ));
    }
}
