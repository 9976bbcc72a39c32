//! The tokens of companion mode (docs/companion.md): the start token an identity provider sends
//! with the browser (what Auth0's `api.redirect.encodeToken` signs: HS256 with a shared secret),
//! and the answers token Accrete sends back to the provider's continue URL. Pure: time is an
//! argument; the single use of a `jti` is the caller's (it needs the store).

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Seconds of clock difference allowed on `exp` and `iat`.
pub const LEEWAY_SECONDS: i64 = 30;

/// How long an answers token is valid: long enough for the browser's POST, as Auth0 asks
/// ("at least one minute").
pub const ANSWERS_LIFETIME_SECONDS: i64 = 120;

/// The longest accepted text of a fact (an id, an email, a client id, a locale).
pub const MAX_FACT_CHARS: usize = 512;

/// The key a companion signs and verifies with: a shared secret (HS256).
#[derive(Clone)]
pub struct SharedSecret(Vec<u8>);

impl SharedSecret {
    /// The shortest secret accepted: 256 bits, as HS256 asks (RFC 7518 §3.2).
    pub const MIN_BYTES: usize = 32;

    /// A secret of at least [`Self::MIN_BYTES`] bytes.
    pub fn new(secret: &str) -> Option<SharedSecret> {
        (secret.len() >= Self::MIN_BYTES).then(|| SharedSecret(secret.as_bytes().to_vec()))
    }
}

impl std::fmt::Debug for SharedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedSecret(********)")
    }
}

/// A provider's public keys, which verify its ES256 start tokens: a JWKS, copied into the
/// configuration (`jwks`) or fetched from where the provider publishes it (`jwks_uri`).
#[derive(Debug, Clone)]
pub struct ProviderKeys(Vec<jsonwebtoken::jwk::Jwk>);

impl ProviderKeys {
    /// The P-256 keys of a JWKS document; why not, as a message. Keys of other kinds (RSA,
    /// encryption keys with an algorithm this library does not know) are left out, so that a
    /// provider publishing several kinds still verifies with its EC keys.
    pub fn parse(jwks: &[u8]) -> Result<ProviderKeys, String> {
        #[derive(Deserialize)]
        struct Document {
            keys: Vec<Value>,
        }
        let document: Document =
            serde_json::from_slice(jwks).map_err(|e| format!("not a JWKS: {e}"))?;
        let keys: Vec<jsonwebtoken::jwk::Jwk> = document
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(key).ok())
            .filter(|jwk| {
                matches!(
                    jwk.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_)
                ) && DecodingKey::from_jwk(jwk).is_ok()
            })
            .collect();
        if keys.is_empty() {
            return Err("no P-256 (EC) key in the JWKS".into());
        }
        Ok(ProviderKeys(keys))
    }

    /// Whether a key of this `kid` is among them.
    pub fn has(&self, kid: &str) -> bool {
        self.0
            .iter()
            .any(|jwk| jwk.common.key_id.as_deref() == Some(kid))
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is none (never, once parsed).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn decoding_key(&self, kid: Option<&str>) -> Option<DecodingKey> {
        let jwk = match kid {
            Some(kid) => self
                .0
                .iter()
                .find(|jwk| jwk.common.key_id.as_deref() == Some(kid))?,
            // Without a `kid`, only a JWKS of one key says which.
            None if self.0.len() == 1 => &self.0[0],
            None => return None,
        };
        DecodingKey::from_jwk(jwk).ok()
    }
}

/// A companion's ES256 keys: the provider's public keys, which verify start tokens (a JWKS
/// copied from the provider; none when they are fetched from its `jwks_uri`, then given to
/// [`verify_start_with`]), and Accrete's own P-256 key for this companion, which signs answers
/// tokens (its public part is published at `/companion/{name}/jwks`).
#[derive(Clone)]
pub struct EcKeys {
    provider: Option<ProviderKeys>,
    signing: EncodingKey,
    public: jsonwebtoken::jwk::Jwk,
    kid: String,
}

impl std::fmt::Debug for EcKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl EcKeys {
    /// The keys from the provider's JWKS (JSON text; `None` when fetched from its `jwks_uri`)
    /// and Accrete's PKCS#8 PEM private key; or why not, as `(setting, message)`.
    pub fn new(
        provider_jwks: Option<&str>,
        signing_pem: &str,
    ) -> Result<EcKeys, (&'static str, String)> {
        let provider = provider_jwks
            .map(|jwks| ProviderKeys::parse(jwks.as_bytes()).map_err(|e| ("jwks", e)))
            .transpose()?;
        let signing = EncodingKey::from_ec_pem(signing_pem.as_bytes()).map_err(|_| {
            (
                "signing_key",
                "not a PKCS#8 PEM P-256 private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)".to_owned(),
            )
        })?;
        let mut public = jsonwebtoken::jwk::Jwk::from_encoding_key(&signing, Algorithm::ES256)
            .map_err(|e| ("signing_key", e.to_string()))?;
        let kid = public
            .thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .map_err(|e| ("signing_key", e.to_string()))?;
        public.common.key_id = Some(kid.clone());
        public.common.public_key_use = Some(jsonwebtoken::jwk::PublicKeyUse::Signature);
        Ok(EcKeys {
            provider,
            signing,
            public,
            kid,
        })
    }

    /// Accrete's public key for this companion, as a JWKS.
    pub fn jwks(&self) -> Value {
        serde_json::json!({ "keys": [self.public] })
    }
}

/// How a companion's tokens are signed: HS256 with a shared secret, or ES256.
#[derive(Debug, Clone)]
pub enum CompanionKey {
    /// HS256 both ways (Auth0's `encodeToken` and `validateToken`).
    Shared(SharedSecret),
    /// ES256: the provider's keys one way, Accrete's own the other.
    Ec(Box<EcKeys>),
}

/// The user's facts as the provider gives them, in the start token and in the check call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Facts {
    /// The user's email address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the provider verified it.
    pub email_verified: bool,
    /// The application the user signs in to (the provider's client id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// How many times the user signed in at the provider.
    pub logins_count: u64,
    /// Values of fields stored in `user_metadata`.
    pub user_metadata: Map<String, Value>,
    /// Values of fields stored in `app_metadata`.
    pub app_metadata: Map<String, Value>,
    /// Standard claims.
    pub profile: Map<String, Value>,
    /// The user's language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
}

impl Facts {
    /// The facts as one JSON object with the three bags (`/user_metadata/company`): what the
    /// fields read their values from.
    pub fn bags(&self) -> Map<String, Value> {
        let mut bags = Map::new();
        bags.insert(
            "user_metadata".into(),
            Value::Object(self.user_metadata.clone()),
        );
        bags.insert(
            "app_metadata".into(),
            Value::Object(self.app_metadata.clone()),
        );
        bags.insert("profile".into(), Value::Object(self.profile.clone()));
        bags
    }

    /// Why these facts are refused (too long a text), as `(path, message)`; empty when fine.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let long = |text: &Option<String>| text.as_ref().is_some_and(|t| t.len() > MAX_FACT_CHARS);
        for (path, text) in [
            ("/email", &self.email),
            ("/client_id", &self.client_id),
            ("/locale", &self.locale),
        ] {
            if long(text) {
                problems.push((path, format!("at most {MAX_FACT_CHARS} characters")));
            }
        }
        problems
    }
}

/// The claims of a start token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartClaims {
    /// The provider (Auth0: the tenant's domain).
    pub iss: String,
    /// The user's id at the provider.
    pub sub: String,
    /// Accrete's address for this companion (a string or a list).
    #[serde(default)]
    pub aud: Option<Value>,
    /// Expiry (Unix seconds).
    pub exp: i64,
    /// Issued at (Unix seconds).
    #[serde(default)]
    pub iat: Option<i64>,
    /// The token's id, used once.
    #[serde(default)]
    pub jti: Option<String>,
    /// The user's facts.
    #[serde(flatten)]
    pub facts: Facts,
}

/// Why a start token is refused: each has a code for "Details for developers".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// Not a JWT, not HS256, a bad signature, or claims of the wrong shape.
    #[error("the token is not a valid token of this provider")]
    Invalid,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `iat` is in the future.
    #[error("the token was issued in the future")]
    NotYetValid,
    /// `iss` is not the companion's provider.
    #[error("the token was issued by another provider")]
    WrongIssuer,
    /// `aud` does not name this companion.
    #[error("the token is meant for another audience")]
    WrongAudience,
    /// No `jti`, or `sub` empty or too long.
    #[error("the token lacks a jti or a subject")]
    MissingClaim,
}

impl StartError {
    /// The code shown to developers.
    pub fn code(self) -> &'static str {
        match self {
            StartError::Invalid => "invalid_token",
            StartError::Expired => "token_expired",
            StartError::NotYetValid => "token_not_yet_valid",
            StartError::WrongIssuer => "wrong_issuer",
            StartError::WrongAudience => "wrong_audience",
            StartError::MissingClaim => "missing_claim",
        }
    }
}

/// Verifies a start token signed with `key`: HS256 with a shared secret, or ES256 with the
/// provider's keys copied into the configuration (a companion whose keys are fetched has none
/// here: use [`verify_start_with`]); the signature, `iss` equal to `issuer`, `aud` naming
/// `audience`, `exp` not passed and `iat` not in the future at `now` (with
/// [`LEEWAY_SECONDS`]), and a `jti` and a `sub` present.
pub fn verify_start(
    token: &str,
    key: &CompanionKey,
    issuer: &str,
    audience: &str,
    now: OffsetDateTime,
) -> Result<StartClaims, StartError> {
    match key {
        CompanionKey::Shared(secret) => verify(
            token,
            Algorithm::HS256,
            &DecodingKey::from_secret(&secret.0),
            issuer,
            audience,
            now,
        ),
        CompanionKey::Ec(keys) => match &keys.provider {
            Some(provider) => verify_start_with(token, provider, issuer, audience, now),
            None => Err(StartError::Invalid),
        },
    }
}

/// [`verify_start`] of an ES256 start token with the provider's keys as last fetched.
pub fn verify_start_with(
    token: &str,
    provider: &ProviderKeys,
    issuer: &str,
    audience: &str,
    now: OffsetDateTime,
) -> Result<StartClaims, StartError> {
    let kid = start_kid(token)?;
    let decoding = provider
        .decoding_key(kid.as_deref())
        .ok_or(StartError::Invalid)?;
    verify(token, Algorithm::ES256, &decoding, issuer, audience, now)
}

/// The `kid` a start token's header names, if any (read before its signature is checked, to
/// choose the key); a token that is not a JWT is refused.
pub fn start_kid(token: &str) -> Result<Option<String>, StartError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| StartError::Invalid)?;
    Ok(header.kid)
}

fn verify(
    token: &str,
    algorithm: Algorithm,
    decoding: &DecodingKey,
    issuer: &str,
    audience: &str,
    now: OffsetDateTime,
) -> Result<StartClaims, StartError> {
    let mut validation = Validation::new(algorithm);
    // Time, issuer and audience are checked below against the `now` given.
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<StartClaims>(token, decoding, &validation)
        .map_err(|_| StartError::Invalid)?;
    let claims = data.claims;
    let now = now.unix_timestamp();
    if claims.iss != issuer {
        return Err(StartError::WrongIssuer);
    }
    let aimed = match &claims.aud {
        Some(Value::String(aud)) => aud == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !aimed {
        return Err(StartError::WrongAudience);
    }
    if claims.exp.saturating_add(LEEWAY_SECONDS) <= now {
        return Err(StartError::Expired);
    }
    if claims
        .iat
        .is_some_and(|iat| iat > now.saturating_add(LEEWAY_SECONDS))
    {
        return Err(StartError::NotYetValid);
    }
    let fits = |text: &str| !text.is_empty() && text.len() <= MAX_FACT_CHARS;
    if !fits(&claims.sub) || !claims.jti.as_deref().is_some_and(fits) {
        return Err(StartError::MissingClaim);
    }
    if !claims.facts.problems().is_empty() {
        return Err(StartError::Invalid);
    }
    Ok(claims)
}

/// How a visit ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Nothing required is left.
    Completed,
    /// The person left a required step.
    Declined,
}

/// The claims of an answers token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnswersClaims {
    /// Accrete's public URL.
    pub iss: String,
    /// The start token's `sub`.
    pub sub: String,
    /// The start token's `iss`.
    pub aud: String,
    /// Now.
    pub iat: i64,
    /// Now + [`ANSWERS_LIFETIME_SECONDS`].
    pub exp: i64,
    /// Random.
    pub jti: String,
    /// The `state` given at the start.
    pub state: String,
    /// How the visit ended.
    pub outcome: Outcome,
    /// For `declined`: a sentence for the person.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    /// Answers of fields stored in `user_metadata`.
    pub user_metadata: Map<String, Value>,
    /// Answers of fields stored in `app_metadata`.
    pub app_metadata: Map<String, Value>,
    /// Answers of fields stored as profile claims.
    pub profile: Map<String, Value>,
    /// Steps skipped in this visit.
    pub skipped: Vec<String>,
}

/// Signs an answers token: HS256 with the shared secret, or ES256 with Accrete's key of the
/// companion (its `kid` in the header); `typ` JWT.
pub fn sign_answers(claims: &AnswersClaims, key: &CompanionKey) -> String {
    // Serializing plain maps and strings, and signing with a key that was parsed, cannot fail.
    match key {
        CompanionKey::Shared(secret) => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&secret.0),
        ),
        CompanionKey::Ec(keys) => {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = Some(keys.kid.clone());
            jsonwebtoken::encode(&header, claims, &keys.signing)
        }
    }
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ISSUER: &str = "tenant.example.auth0.com";
    const AUDIENCE: &str = "https://id.example/companion/auth0";

    fn secret() -> SharedSecret {
        SharedSecret::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn token(claims: Value, key: &[u8]) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(key),
        )
        .unwrap()
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "sub": "auth0|42", "aud": AUDIENCE, "jti": "j-1",
            "iat": 1_800_000_000i64, "exp": 1_800_000_600i64,
            "email": "ada@example.com", "email_verified": true, "client_id": "shop",
            "logins_count": 3, "user_metadata": { "company": "Acme" }, "ip": "192.0.2.1"
        })
    }

    fn verify(token: &str) -> Result<StartClaims, StartError> {
        verify_start(
            token,
            &CompanionKey::Shared(secret()),
            ISSUER,
            AUDIENCE,
            now(),
        )
    }

    #[test]
    fn a_start_token_of_the_provider_gives_its_facts() {
        let verified = verify(&token(claims(), &secret().0)).unwrap();
        assert_eq!(verified.sub, "auth0|42");
        assert_eq!(verified.jti.as_deref(), Some("j-1"));
        assert_eq!(verified.facts.logins_count, 3);
        assert_eq!(verified.facts.client_id.as_deref(), Some("shop"));
        assert_eq!(verified.facts.user_metadata["company"], "Acme");
        assert_eq!(verified.facts.bags()["user_metadata"]["company"], "Acme");
    }

    #[test]
    fn each_broken_rule_has_its_own_refusal() {
        let with = |change: Value| {
            let mut c = claims();
            for (k, v) in change.as_object().unwrap() {
                if v.is_null() {
                    c.as_object_mut().unwrap().remove(k);
                } else {
                    c[k] = v.clone();
                }
            }
            verify(&token(c, &secret().0))
        };
        assert_eq!(
            verify(&token(claims(), b"another secret of thirty-two bytes!")),
            Err(StartError::Invalid)
        );
        assert_eq!(
            with(json!({ "exp": 1_799_999_960i64 })),
            Err(StartError::Expired)
        );
        assert!(with(json!({ "exp": 1_799_999_980i64 })).is_ok(), "leeway");
        assert_eq!(
            with(json!({ "iat": 1_800_000_100i64 })),
            Err(StartError::NotYetValid)
        );
        assert_eq!(
            with(json!({ "iss": "other.auth0.com" })),
            Err(StartError::WrongIssuer)
        );
        assert_eq!(
            with(json!({ "aud": "https://elsewhere" })),
            Err(StartError::WrongAudience)
        );
        assert_eq!(with(json!({ "aud": null })), Err(StartError::WrongAudience));
        assert!(with(json!({ "aud": [AUDIENCE, "x"] })).is_ok());
        assert_eq!(with(json!({ "jti": null })), Err(StartError::MissingClaim));
        assert_eq!(with(json!({ "sub": "" })), Err(StartError::MissingClaim));
        assert_eq!(with(json!({ "exp": null })), Err(StartError::Invalid));
        assert_eq!(verify("not.a.token"), Err(StartError::Invalid));
    }

    #[test]
    fn another_algorithm_is_refused_even_with_the_right_key() {
        let unsigned = format!(
            "{}.{}.",
            base64_url(br#"{"alg":"none","typ":"JWT"}"#),
            base64_url(claims().to_string().as_bytes())
        );
        assert_eq!(verify(&unsigned), Err(StartError::Invalid));
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(),
            &EncodingKey::from_secret(&secret().0),
        )
        .unwrap();
        assert_eq!(verify(&hs512), Err(StartError::Invalid));
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A P-256 key: its PKCS#8 PEM and its public JWKS (with its `kid`).
    fn ec_key() -> (String, String, crate::keys::SigningKey) {
        use base64::Engine;
        let key = crate::keys::SigningKey::generate(
            crate::keys::Alg::ES256,
            crate::keys::KeySchedule::immediately(now()),
        )
        .unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(key.private_pkcs8());
        let pem = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n");
        let jwks = json!({ "keys": [key.public_jwk()] }).to_string();
        (pem, jwks, key)
    }

    #[test]
    fn es256_start_tokens_verify_with_the_providers_jwks_and_answers_with_ours() {
        let (provider_pem, provider_jwks, provider) = ec_key();
        let (accrete_pem, _, _) = ec_key();
        let keys = CompanionKey::Ec(Box::new(
            EcKeys::new(Some(&provider_jwks), &accrete_pem).unwrap(),
        ));
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(provider.kid().to_owned());
        let signed = jsonwebtoken::encode(
            &header,
            &claims(),
            &EncodingKey::from_ec_pem(provider_pem.as_bytes()).unwrap(),
        )
        .unwrap();
        let verified = verify_start(&signed, &keys, ISSUER, AUDIENCE, now()).unwrap();
        assert_eq!(verified.sub, "auth0|42");
        // An HS256 token is refused by an ES256 companion, even "signed" with its public key.
        let hs = token(claims(), provider_jwks.as_bytes());
        assert_eq!(
            verify_start(&hs, &keys, ISSUER, AUDIENCE, now()),
            Err(StartError::Invalid)
        );
        // Answers are ES256 under Accrete's published key.
        let CompanionKey::Ec(ec) = &keys else {
            unreachable!()
        };
        let published: jsonwebtoken::jwk::JwkSet = serde_json::from_value(ec.jwks()).unwrap();
        let answers = AnswersClaims {
            iss: "https://id.example".into(),
            sub: "s".into(),
            aud: ISSUER.into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
            state: "st".into(),
            outcome: Outcome::Completed,
            message: None,
            user_metadata: Map::new(),
            app_metadata: Map::new(),
            profile: Map::new(),
            skipped: Vec::new(),
        };
        let signed = sign_answers(&answers, &keys);
        let kid = jsonwebtoken::decode_header(&signed).unwrap().kid.unwrap();
        let jwk = published.find(&kid).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.validate_exp = false;
        validation.set_audience(&[ISSUER]);
        let back = jsonwebtoken::decode::<AnswersClaims>(
            &signed,
            &DecodingKey::from_jwk(jwk).unwrap(),
            &validation,
        )
        .unwrap();
        assert_eq!(back.claims, answers);
        assert!(!format!("{:?}", ec).contains("BEGIN"));
        assert_eq!(EcKeys::new(Some("{}"), &accrete_pem).unwrap_err().0, "jwks");
        assert_eq!(
            EcKeys::new(Some(&provider_jwks), "nope").unwrap_err().0,
            "signing_key"
        );
    }

    #[test]
    fn fetched_keys_verify_by_kid_and_other_kinds_of_keys_are_left_out() {
        let (provider_pem, _, provider) = ec_key();
        let (accrete_pem, _, _) = ec_key();
        let (_, _, other) = ec_key();
        // A published JWKS also holding an RSA key and a key of an unknown algorithm.
        let rsa = crate::keys::SigningKey::generate(
            crate::keys::Alg::RS256,
            crate::keys::KeySchedule::immediately(now()),
        )
        .unwrap();
        let published = json!({ "keys": [
            rsa.public_jwk(),
            { "kty": "AKP", "alg": "ML-DSA-44", "kid": "pq", "pub": "AAAA" },
            provider.public_jwk(),
            other.public_jwk(),
        ] });
        let keys = ProviderKeys::parse(published.to_string().as_bytes()).unwrap();
        assert_eq!(keys.len(), 2, "the two EC keys");
        assert!(keys.has(provider.kid()) && !keys.has("pq"));
        let sign = |kid: Option<&str>| {
            let mut header = Header::new(Algorithm::ES256);
            header.kid = kid.map(str::to_owned);
            jsonwebtoken::encode(
                &header,
                &claims(),
                &EncodingKey::from_ec_pem(provider_pem.as_bytes()).unwrap(),
            )
            .unwrap()
        };
        let signed = sign(Some(provider.kid()));
        assert_eq!(start_kid(&signed).unwrap().as_deref(), Some(provider.kid()));
        let verified = verify_start_with(&signed, &keys, ISSUER, AUDIENCE, now()).unwrap();
        assert_eq!(verified.sub, "auth0|42");
        // Another key's kid, an unknown kid, or none among several keys: refused.
        for kid in [Some(other.kid()), Some("unknown"), None] {
            assert_eq!(
                verify_start_with(&sign(kid), &keys, ISSUER, AUDIENCE, now()),
                Err(StartError::Invalid),
                "{kid:?}"
            );
        }
        assert_eq!(start_kid("not a token"), Err(StartError::Invalid));
        // A companion whose keys are fetched verifies nothing without them.
        let fetched = CompanionKey::Ec(Box::new(EcKeys::new(None, &accrete_pem).unwrap()));
        assert_eq!(
            verify_start(&signed, &fetched, ISSUER, AUDIENCE, now()),
            Err(StartError::Invalid)
        );
        assert!(ProviderKeys::parse(br#"{"keys": []}"#).is_err());
        assert!(ProviderKeys::parse(b"<html>").is_err());
    }

    #[test]
    fn an_answers_token_verifies_with_the_shared_secret() {
        let claims = AnswersClaims {
            iss: "https://id.example".into(),
            sub: "auth0|42".into(),
            aud: ISSUER.into(),
            iat: 1_800_000_000,
            exp: 1_800_000_120,
            jti: "r".into(),
            state: "abc".into(),
            outcome: Outcome::Completed,
            message: None,
            user_metadata: json!({ "company": "Acme" }).as_object().unwrap().clone(),
            app_metadata: Map::new(),
            profile: Map::new(),
            skipped: vec!["phone".into()],
        };
        let signed = sign_answers(&claims, &CompanionKey::Shared(secret()));
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.set_audience(&[ISSUER]);
        let back = jsonwebtoken::decode::<AnswersClaims>(
            &signed,
            &DecodingKey::from_secret(&secret().0),
            &validation,
        )
        .unwrap();
        assert_eq!(back.claims, claims);
        assert!(signed.contains('.'));
        assert!(SharedSecret::new("short").is_none());
        assert_eq!(format!("{:?}", secret()), "SharedSecret(********)");
    }
}
