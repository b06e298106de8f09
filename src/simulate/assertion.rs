//! Checking a certificate client assertion the way Entra does: thumbprint, claims,
//! and the RSA signature against the registered certificate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The certificate an application registered.
#[derive(Debug, Clone)]
pub(super) struct RegisteredCertificate {
    der: CertificateDer<'static>,
    sha256: String,
    sha1: String,
}

impl RegisteredCertificate {
    pub(super) fn load(path: &Path) -> Result<Self, String> {
        let der = CertificateDer::from_pem_file(path)
            .map_err(|error| format!("{}: {error}", path.display()))?;
        let sha256 =
            URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, der.as_ref()));
        let sha1 = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            der.as_ref(),
        ));
        Ok(RegisteredCertificate { der, sha256, sha1 })
    }

    /// Why the assertion is refused, or `Ok` (AADSTS-like messages).
    pub(super) fn check(
        &self,
        assertion: &str,
        client_id: &str,
        audience: &str,
    ) -> Result<(), String> {
        let mut parts = assertion.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("AADSTS50027: JWT token is invalid or malformed.".into());
        };
        let decode = |part: &str| -> Result<serde_json::Value, String> {
            let bytes = URL_SAFE_NO_PAD
                .decode(part)
                .map_err(|_| "AADSTS50027: JWT token is invalid or malformed.".to_owned())?;
            serde_json::from_slice(&bytes)
                .map_err(|_| "AADSTS50027: JWT token is invalid or malformed.".to_owned())
        };
        let (header_json, claims_json) = (decode(header)?, decode(claims)?);
        let algorithm: &dyn rustls_pki_types::SignatureVerificationAlgorithm = match (header_json["alg"].as_str(), header_json["x5t#S256"].as_str(), header_json["x5t"].as_str()) {
            (Some("PS256"), Some(thumbprint), _) if thumbprint == self.sha256 => webpki::ring::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
            (Some("RS256"), _, Some(thumbprint)) if thumbprint == self.sha1 => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            _ => return Err("AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.".into()),
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let claims_ok = claims_json["aud"] == audience
            && claims_json["iss"] == client_id
            && claims_json["sub"] == client_id
            && claims_json["jti"].is_string()
            && claims_json["exp"].as_u64().is_some_and(|exp| exp > now)
            && claims_json["nbf"]
                .as_u64()
                .is_some_and(|nbf| nbf <= now + 60);
        if !claims_ok {
            return Err("AADSTS700024: Client assertion is not within its valid time range, or its audience, issuer or subject is wrong.".into());
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "AADSTS50027: JWT token is invalid or malformed.".to_owned())?;
        let certificate = webpki::EndEntityCert::try_from(&self.der)
            .map_err(|error| format!("registered certificate unreadable: {error}"))?;
        let signed = &assertion[..header.len() + 1 + claims.len()];
        certificate
            .verify_signature(algorithm, signed.as_bytes(), &signature)
            .map_err(|_| "AADSTS7000274: The client assertion signature is invalid.".to_owned())
    }
}
