//! The signed JWT an application presents instead of a secret when it authenticates
//! with a certificate (Entra's "client assertion").
//!
//! Signed with ring, already in the tree through rustls, rather than the `rsa` crate,
//! whose timing advisory (RUSTSEC-2023-0071) has no fix.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{self, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long an assertion is valid: Entra wants minutes, not hours.
const ASSERTION_LIFETIME_SECONDS: u64 = 600;

/// The signature scheme of the client assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AssertionAlgorithm {
    /// RSASSA-PSS with SHA-256, header `x5t#S256` (Microsoft's current recommendation).
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, header `x5t` (SHA-1 thumbprint).
    Rs256,
}

/// A loaded certificate and key, ready to sign assertions.
pub struct AssertionSigner {
    key: RsaKeyPair,
    algorithm: AssertionAlgorithm,
    thumbprint_sha256: String,
    thumbprint_sha1: String,
    random: SystemRandom,
}

impl std::fmt::Debug for AssertionSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionSigner")
            .field("algorithm", &self.algorithm)
            .field("x5t#S256", &self.thumbprint_sha256)
            .finish_non_exhaustive()
    }
}

fn read_certificate(path: &Path) -> Result<CertificateDer<'static>, String> {
    CertificateDer::from_pem_file(path).map_err(|error| {
        format!(
            "{}: no PEM certificate could be read ({error})",
            path.display()
        )
    })
}

fn read_key(path: &Path) -> Result<RsaKeyPair, String> {
    let key = PrivateKeyDer::from_pem_file(path).map_err(|error| {
        format!(
            "{}: no unencrypted PEM private key could be read ({error}); encrypted keys are not supported",
            path.display()
        )
    })?;
    let parsed = match &key {
        PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
        _ => {
            return Err(format!(
                "{}: not an RSA key (Entra certificates use RSA)",
                path.display()
            ));
        }
    };
    parsed.map_err(|error| format!("{}: the RSA key was refused ({error})", path.display()))
}

/// Checks, without the network, that a certificate file can be used.
pub fn check_certificate_file(path: &Path) -> Result<(), String> {
    read_certificate(path).map(drop)
}

/// Checks, without the network, that a private key file can be used (never prints it).
pub fn check_private_key_file(path: &Path) -> Result<(), String> {
    read_key(path).map(drop)
}

/// Checks, without the network, that the key is the private half of the certificate's
/// public key: a pair that does not belong together is refused by Entra
/// (AADSTS7000274), only at the first token request otherwise. The certificate's
/// subjectPublicKey holds the key's RSAPublicKey DER as it is.
pub fn check_certificate_and_key(certificate: &Path, private_key: &Path) -> Result<(), String> {
    use ring::signature::KeyPair;
    let (certificate_der, key) = (read_certificate(certificate)?, read_key(private_key)?);
    let public = key.public_key().as_ref();
    if certificate_der
        .as_ref()
        .windows(public.len())
        .any(|window| window == public)
    {
        Ok(())
    } else {
        Err(format!(
            "{} is not the private key of {}: give the key made with that certificate",
            private_key.display(),
            certificate.display()
        ))
    }
}

fn now_unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl AssertionSigner {
    /// Loads the certificate and key; the messages name the files, never the key.
    pub fn load(
        certificate: &Path,
        private_key: &Path,
        algorithm: AssertionAlgorithm,
    ) -> Result<Self, String> {
        let certificate = read_certificate(certificate)?;
        let key = read_key(private_key)?;
        let sha256 = ring::digest::digest(&ring::digest::SHA256, certificate.as_ref());
        let sha1 = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            certificate.as_ref(),
        );
        Ok(AssertionSigner {
            key,
            algorithm,
            thumbprint_sha256: URL_SAFE_NO_PAD.encode(sha256.as_ref()),
            thumbprint_sha1: URL_SAFE_NO_PAD.encode(sha1.as_ref()),
            random: SystemRandom::new(),
        })
    }

    /// A fresh assertion for `client_id` at the token endpoint `audience`.
    pub fn sign(&self, client_id: &str, audience: &str) -> Result<String, String> {
        let header = match self.algorithm {
            AssertionAlgorithm::Ps256 => {
                serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": self.thumbprint_sha256})
            }
            AssertionAlgorithm::Rs256 => {
                serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint_sha1})
            }
        };
        let now = now_unix_seconds();
        let mut jti = [0u8; 16];
        self.random
            .fill(&mut jti)
            .map_err(|_| "no randomness for the assertion id".to_owned())?;
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": format_guid(jti),
            "nbf": now,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let scheme: &dyn signature::RsaEncoding = match self.algorithm {
            AssertionAlgorithm::Ps256 => &signature::RSA_PSS_SHA256,
            AssertionAlgorithm::Rs256 => &signature::RSA_PKCS1_SHA256,
        };
        let mut signed = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(scheme, &self.random, signing_input.as_bytes(), &mut signed)
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signed)
        ))
    }
}

/// Formats 16 random bytes as a version-4 GUID.
fn format_guid(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0F) | 0x40;
    bytes[8] = (bytes[8] & 0x3F) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}
