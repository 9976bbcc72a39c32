//! Standard Webhooks signatures (standardwebhooks.com): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 of HMAC-SHA256("{id}.{timestamp}.{body}")>`, keyed with the
//! bytes of a `whsec_<base64>` secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The prefix of a signing secret as written in the configuration.
const PREFIX: &str = "whsec_";
/// The fewest bytes a secret may have.
const MIN_BYTES: usize = 24;

/// A signing secret: the key bytes of `whsec_<base64>`. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    /// Reads `whsec_<base64>` (standard base64, at least 24 bytes once decoded). The error
    /// says what is wrong without repeating the secret.
    pub fn parse(written: &str) -> Result<SigningSecret, String> {
        let Some(encoded) = written.trim().strip_prefix(PREFIX) else {
            return Err(format!(
                "must start with {PREFIX} followed by base64 (e.g. {PREFIX}$(openssl rand -base64 32))"
            ));
        };
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| format!("the part after {PREFIX} is not base64"))?;
        if bytes.len() < MIN_BYTES {
            return Err(format!(
                "is {} bytes long; use at least {MIN_BYTES} random bytes",
                bytes.len()
            ));
        }
        Ok(SigningSecret(bytes))
    }

    /// The secret as written: `whsec_<base64>`.
    pub fn to_written(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(********)")
    }
}

/// The `webhook-signature` value of `body` sent with `id` at `timestamp` (Unix seconds):
/// `v1,<base64>`.
pub fn sign(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = secret.mac();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether `header` (a `webhook-signature` value: one or more space-separated `v1,<base64>`)
/// holds a valid signature of `body` with `id` and `timestamp`. Compared in constant time.
pub fn verify(secret: &SigningSecret, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split_whitespace().any(|candidate| {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            return false;
        };
        let Ok(expected) = STANDARD.decode(encoded) else {
            return false;
        };
        let mut mac = secret.mac();
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&expected).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::{SigningSecret, sign, verify};

    #[test]
    fn the_signature_matches_the_standard_webhooks_reference_example() {
        // The example of the Standard Webhooks specification (and its reference libraries).
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
            &format!("v1,bm90IGl0 {signature}")
        ));
        assert!(!verify(&secret, "msg_other", 1614265330, body, &signature));
        assert!(!verify(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265331,
            body,
            &signature
        ));
    }

    #[test]
    fn the_example_of_docs_phone_md_is_signed_as_it_says() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"type":"sms","id":"msg_0190c3e0a3d87c4b9f2f6f6d3e0b9a11","to":"+33612345678","body":"042917 is your Accrete code to confirm this number. It is valid for 10 minutes. Do not share it.","locale":"en","purpose":"verify_phone","code":"042917","expires_at":"2026-01-01T00:10:00Z"}"#;
        let docs = include_str!("../../../docs/phone.md");
        assert!(docs.contains(body), "docs/phone.md shows another body");
        let signature = sign(
            &secret,
            "msg_0190c3e0a3d87c4b9f2f6f6d3e0b9a11",
            1767225600,
            body.as_bytes(),
        );
        assert!(
            docs.contains(&format!("webhook-signature: {signature}")),
            "{signature}"
        );
    }

    #[test]
    fn a_secret_is_whsec_and_base64_of_enough_bytes_and_never_shown() {
        let error = SigningSecret::parse("s3cret-s3cret-s3cret-s3cret").unwrap_err();
        assert!(error.contains("whsec_"), "{error}");
        assert!(
            SigningSecret::parse("whsec_!!!")
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            SigningSecret::parse("whsec_c2hvcnQ=")
                .unwrap_err()
                .contains("at least 24")
        );
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.to_written(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        );
        assert_eq!(format!("{secret:?}"), "SigningSecret(********)");
    }
}
