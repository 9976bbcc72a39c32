//! Client authentication at the token, revocation and introspection endpoints:
//! `client_secret_basic` (RFC 6749 §2.3.1, with its form-URL-decoding of id and secret),
//! `client_secret_post`, and `none` for public clients. Using two methods at once is refused.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::client::ClientView;
use crate::error::{ChallengeScheme, OAuthError};
use crate::params::Params;
use crate::secrets::TokenHasher;

/// How a client presented itself.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientAuthentication {
    /// `Authorization: Basic` with the id and secret.
    Basic {
        /// The decoded client id.
        client_id: String,
        /// The decoded secret.
        client_secret: String,
    },
    /// `client_id` and `client_secret` in the form body.
    Post {
        /// The client id.
        client_id: String,
        /// The secret.
        client_secret: String,
    },
    /// Only a `client_id` (public clients).
    None {
        /// The client id.
        client_id: String,
    },
}

impl std::fmt::Debug for ClientAuthentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ClientAuthentication({}, {})",
            self.method(),
            self.client_id()
        )
    }
}

impl ClientAuthentication {
    /// The client id presented.
    pub fn client_id(&self) -> &str {
        match self {
            Self::Basic { client_id, .. }
            | Self::Post { client_id, .. }
            | Self::None { client_id } => client_id,
        }
    }

    /// The registered method name.
    pub fn method(&self) -> &'static str {
        match self {
            Self::Basic { .. } => "client_secret_basic",
            Self::Post { .. } => "client_secret_post",
            Self::None { .. } => "none",
        }
    }

    /// The challenge an `invalid_client` answer must carry for this method.
    pub fn challenge(&self) -> ChallengeScheme {
        match self {
            Self::Basic { .. } => ChallengeScheme::Basic,
            _ => ChallengeScheme::None,
        }
    }

    /// Checks the presented credentials against the registered client and, for confidential
    /// clients, the stored keyed hash of its secret. Public clients must use `none`; confidential
    /// clients must send their secret. Failures are `invalid_client` (with a Basic challenge when
    /// Basic was used).
    pub fn authenticate(
        &self,
        client: &ClientView,
        stored_secret_hash: Option<&str>,
        hasher: &TokenHasher,
    ) -> Result<(), OAuthError> {
        let fail = |description: &str| {
            Err(OAuthError::invalid_client(description).with_challenge(self.challenge()))
        };
        if client.id != self.client_id() {
            return fail("client authentication failed");
        }
        match (self, client.public) {
            (Self::None { .. }, true) => Ok(()),
            (Self::None { .. }, false) => fail("client authentication is required"),
            (_, true) => fail("public clients do not authenticate with a secret"),
            (Self::Basic { client_secret, .. } | Self::Post { client_secret, .. }, false) => {
                match stored_secret_hash {
                    Some(stored) if hasher.verify(client_secret, stored) => Ok(()),
                    _ => fail("client authentication failed"),
                }
            }
        }
    }
}

/// Reads the client's credentials from the `Authorization` header value (if any) and the form body.
pub fn client_authentication(
    authorization: Option<&str>,
    body: &[(String, String)],
) -> Result<ClientAuthentication, OAuthError> {
    let params = Params::from_pairs(body, &[]);
    from_params(authorization, &params)
}

pub(crate) fn from_params(
    authorization: Option<&str>,
    params: &Params,
) -> Result<ClientAuthentication, OAuthError> {
    let body_id = params.get("client_id");
    let body_secret = params.get("client_secret");
    if params.is_duplicated("client_id") || params.is_duplicated("client_secret") {
        return Err(OAuthError::invalid_request(
            "client credentials are repeated",
        ));
    }
    if let Some(header) = authorization {
        let (client_id, client_secret) = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not Basic and client_secret together",
            ));
        }
        if body_id.is_some_and(|id| id != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id differs from the Basic credentials",
            ));
        }
        return Ok(ClientAuthentication::Basic {
            client_id,
            client_secret,
        });
    }
    match (body_id, body_secret) {
        (Some(id), Some(secret)) => Ok(ClientAuthentication::Post {
            client_id: id.to_owned(),
            client_secret: secret.to_owned(),
        }),
        (Some(id), None) => Ok(ClientAuthentication::None {
            client_id: id.to_owned(),
        }),
        (None, _) => Err(OAuthError::invalid_client(
            "client authentication is missing",
        )),
    }
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || {
        OAuthError::invalid_client("malformed Basic credentials")
            .with_challenge(ChallengeScheme::Basic)
    };
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_request(
            "unsupported Authorization scheme",
        ));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let (id, secret) = (
        form_decode(id).ok_or_else(bad)?,
        form_decode(secret).ok_or_else(bad)?,
    );
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte; a
/// malformed escape or invalid UTF-8 is refused.
fn form_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::{public_client, web_client};
    use crate::error::ErrorCode;
    use crate::params::pairs;

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn hasher() -> TokenHasher {
        TokenHasher::new(&[7; 32]).unwrap()
    }

    #[test]
    fn basic_credentials_are_decoded() {
        let auth = client_authentication(Some(&basic("web", "s3cret")), &[]).unwrap();
        assert_eq!(
            auth,
            ClientAuthentication::Basic {
                client_id: "web".into(),
                client_secret: "s3cret".into()
            }
        );
    }

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        // RFC 6749 §2.3.1: a colon in the secret arrives as %3A, a space as +.
        let header = basic("my%20client", "pa%3Ass+word%25");
        let auth = client_authentication(Some(&header), &[]).unwrap();
        assert_eq!(
            auth,
            ClientAuthentication::Basic {
                client_id: "my client".into(),
                client_secret: "pa:ss word%".into()
            }
        );
    }

    #[test]
    fn basic_secret_may_contain_a_raw_colon_after_the_first() {
        let auth = client_authentication(Some(&basic("web", "a:b")), &[]).unwrap();
        assert_eq!(
            auth,
            ClientAuthentication::Basic {
                client_id: "web".into(),
                client_secret: "a:b".into()
            }
        );
    }

    #[test]
    fn malformed_basic_credentials_are_invalid_client_with_a_basic_challenge() {
        for header in [
            "Basic !!!",
            "Basic",
            &format!("Basic {}", STANDARD.encode("nocolon")),
            &basic("web", "%zz"),
        ] {
            let error = client_authentication(Some(header), &[]).unwrap_err();
            assert_eq!(error.kind, ErrorCode::InvalidClient, "{header}");
            assert!(error.www_authenticate().unwrap().starts_with("Basic"));
        }
    }

    #[test]
    fn basic_scheme_name_is_case_insensitive() {
        let header = basic("web", "s").replacen("Basic", "bAsIc", 1);
        assert!(client_authentication(Some(&header), &[]).is_ok());
    }

    #[test]
    fn body_credentials_are_client_secret_post() {
        let body = pairs(&[("client_id", "web"), ("client_secret", "s3cret")]);
        let auth = client_authentication(None, &body).unwrap();
        assert_eq!(auth.method(), "client_secret_post");
    }

    #[test]
    fn client_id_alone_is_method_none() {
        let auth = client_authentication(None, &pairs(&[("client_id", "spa")])).unwrap();
        assert_eq!(
            auth,
            ClientAuthentication::None {
                client_id: "spa".into()
            }
        );
    }

    #[test]
    fn two_methods_at_once_are_refused() {
        let body = pairs(&[("client_id", "web"), ("client_secret", "s3cret")]);
        let error = client_authentication(Some(&basic("web", "s3cret")), &body).unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidRequest);
    }

    #[test]
    fn basic_with_a_matching_body_client_id_is_accepted() {
        let body = pairs(&[("client_id", "web")]);
        assert!(client_authentication(Some(&basic("web", "s")), &body).is_ok());
        let body = pairs(&[("client_id", "other")]);
        assert!(client_authentication(Some(&basic("web", "s")), &body).is_err());
    }

    #[test]
    fn no_credentials_at_all_is_invalid_client() {
        assert_eq!(
            client_authentication(None, &[]).unwrap_err().kind,
            ErrorCode::InvalidClient
        );
    }

    #[test]
    fn confidential_client_authenticates_with_the_right_secret_only() {
        let stored = hasher().hash("s3cret");
        let good = ClientAuthentication::Post {
            client_id: "web".into(),
            client_secret: "s3cret".into(),
        };
        assert!(
            good.authenticate(&web_client(), Some(&stored), &hasher())
                .is_ok()
        );
        let bad = ClientAuthentication::Basic {
            client_id: "web".into(),
            client_secret: "nope".into(),
        };
        let error = bad
            .authenticate(&web_client(), Some(&stored), &hasher())
            .unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidClient);
        assert!(error.www_authenticate().is_some());
    }

    #[test]
    fn confidential_client_cannot_skip_authentication() {
        let none = ClientAuthentication::None {
            client_id: "web".into(),
        };
        let error = none
            .authenticate(&web_client(), Some("x"), &hasher())
            .unwrap_err();
        assert_eq!(error.kind, ErrorCode::InvalidClient);
    }

    #[test]
    fn public_client_authenticates_with_none_only() {
        let none = ClientAuthentication::None {
            client_id: "spa".into(),
        };
        assert!(none.authenticate(&public_client(), None, &hasher()).is_ok());
        let post = ClientAuthentication::Post {
            client_id: "spa".into(),
            client_secret: "x".into(),
        };
        assert!(
            post.authenticate(&public_client(), None, &hasher())
                .is_err()
        );
    }

    #[test]
    fn credentials_for_another_client_fail() {
        let auth = ClientAuthentication::None {
            client_id: "other".into(),
        };
        assert!(
            auth.authenticate(&public_client(), None, &hasher())
                .is_err()
        );
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        let auth = ClientAuthentication::Post {
            client_id: "web".into(),
            client_secret: "s3cret".into(),
        };
        assert!(!format!("{auth:?}").contains("s3cret"));
    }

    fn form_encode(value: &str) -> String {
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
    }

    proptest::proptest! {
        #[test]
        fn any_form_encoded_basic_credentials_decode_to_the_original(
            id in "[^\\x00]{1,40}",
            secret in "\\PC{0,60}",
        ) {
            let header = basic(&form_encode(&id), &form_encode(&secret));
            let auth = client_authentication(Some(&header), &[]).unwrap();
            proptest::prop_assert_eq!(
                auth,
                ClientAuthentication::Basic { client_id: id, client_secret: secret }
            );
        }

        #[test]
        fn arbitrary_authorization_headers_never_panic(header in "\\PC{0,80}") {
            let _ = client_authentication(Some(&header), &[]);
        }
    }
}
