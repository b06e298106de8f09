//! What an Entra ID sign-in refusal means: its AADSTS code read off the answer, and
//! the few codes an operator meets when setting up an application (no consent in the
//! tenant, a wrong or expired secret, an unknown tenant, a certificate not registered)
//! said in words, with what to do; any other code as Entra gave it.

/// The AADSTS number of a refusal: Entra's `error_codes`, else the `AADSTS<n>` its
/// description starts with.
pub(super) fn aadsts_code(codes: &[u32], description: &str) -> Option<u32> {
    codes.first().copied().or_else(|| {
        let after = &description[description.find("AADSTS")? + "AADSTS".len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// Entra ID refused a sign-in: who, with which AADSTS code, in Entra's words; its
/// message says what the code means and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", message(self))]
pub struct SignInRefusal {
    /// HTTP status.
    pub status: u16,
    /// The tenant signed in to.
    pub tenant: String,
    /// The application.
    pub client_id: String,
    /// The authority's base URL (`https://login.microsoftonline.com`): the
    /// admin-consent link is on it.
    pub authority: String,
    /// Entra's AADSTS number (700016, 7000215, ...), when it gave one.
    pub code: Option<u32>,
    /// OAuth error code (`invalid_client`, ...).
    pub error: String,
    /// The first line of Microsoft's description (starting with its AADSTS code),
    /// scrubbed of the secret and cut short.
    pub description: String,
}

/// The message of a refusal: what its code means and what to do, then Entra's own
/// first line.
fn message(refusal: &SignInRefusal) -> String {
    let SignInRefusal {
        tenant,
        client_id,
        authority,
        code,
        error,
        description,
        ..
    } = refusal;
    let meaning = match *code {
        Some(code @ (700_016 | 65_001)) => format!(
            "the application is not consented in that tenant (AADSTS{code}): an administrator of the tenant grants consent at {authority}/{tenant}/adminconsent?client_id={client_id} (or, if client_id is wrong, correct it)"
        ),
        Some(7_000_215) => "the client secret is wrong (AADSTS7000215): client_secret must be the secret's Value, not its Secret ID (the app registration's Certificates & secrets)".to_owned(),
        Some(7_000_222) => "the client secret has expired (AADSTS7000222): add a new one under the app registration's Certificates & secrets and set client_secret to it".to_owned(),
        Some(90_002) => "no such tenant (AADSTS90002): check tenant_id, and authority_url for a national cloud".to_owned(),
        Some(700_027) => "the certificate assertion was refused (AADSTS700027): client_certificate must be registered on the app registration (Certificates & secrets) and client_private_key must be its key".to_owned(),
        _ => return format!(
            "Entra ID refused the sign-in of application {client_id} in tenant {tenant}: {error}: {description}"
        ),
    };
    format!(
        "Entra ID refused the sign-in of application {client_id} in tenant {tenant}: {meaning}; Entra ID said {error}: {description}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(code: Option<u32>, error: &str, description: &str) -> String {
        SignInRefusal {
            status: 400,
            tenant: "contoso.onmicrosoft.com".into(),
            client_id: "11111111-1111-1111-1111-111111111111".into(),
            authority: "https://login.microsoftonline.com".into(),
            code,
            error: error.into(),
            description: description.into(),
        }
        .to_string()
    }

    #[test]
    fn the_code_comes_from_error_codes_else_from_the_description() {
        assert_eq!(aadsts_code(&[65_001], "AADSTS700016: x"), Some(65_001));
        assert_eq!(
            aadsts_code(&[], "AADSTS700016: Application not found"),
            Some(700_016)
        );
        assert_eq!(aadsts_code(&[], "Invalid client"), None);
        assert_eq!(aadsts_code(&[], "AADSTS: nothing"), None);
    }

    #[test]
    fn no_consent_gives_the_admin_consent_url_of_the_tenant() {
        for code in [700_016, 65_001] {
            let text = message(Some(code), "unauthorized_client", "AADSTS700016: not found");
            assert!(
                text.contains("https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=11111111-1111-1111-1111-111111111111"),
                "{text}"
            );
            assert!(text.contains(&format!("AADSTS{code}")), "{text}");
            assert!(
                text.contains("in tenant contoso.onmicrosoft.com: the application is not consented in that tenant"),
                "{text}"
            );
        }
        // Whole, as an operator reads it.
        assert_eq!(
            message(
                Some(65_001),
                "invalid_grant",
                "AADSTS65001: The user or administrator has not consented."
            ),
            "Entra ID refused the sign-in of application 11111111-1111-1111-1111-111111111111 in tenant contoso.onmicrosoft.com: \
             the application is not consented in that tenant (AADSTS65001): an administrator of the tenant grants consent at \
             https://login.microsoftonline.com/contoso.onmicrosoft.com/adminconsent?client_id=11111111-1111-1111-1111-111111111111 \
             (or, if client_id is wrong, correct it); \
             Entra ID said invalid_grant: AADSTS65001: The user or administrator has not consented."
        );
    }

    #[test]
    fn known_codes_say_what_they_mean_and_others_keep_entras_words() {
        let cases = [
            (7_000_215, "the client secret is wrong"),
            (7_000_222, "the client secret has expired"),
            (
                90_002,
                "in tenant contoso.onmicrosoft.com: no such tenant (AADSTS90002)",
            ),
            (700_027, "the certificate assertion was refused"),
        ];
        for (code, meaning) in cases {
            let text = message(Some(code), "invalid_client", "AADSTS: Entra's line");
            assert!(text.contains(meaning), "{text}");
            assert!(
                text.contains("Entra ID said invalid_client: AADSTS: Entra's line"),
                "{text}"
            );
        }
        let other = message(Some(50_034), "invalid_request", "AADSTS50034: No such user");
        assert_eq!(
            other,
            "Entra ID refused the sign-in of application 11111111-1111-1111-1111-111111111111 in tenant contoso.onmicrosoft.com: invalid_request: AADSTS50034: No such user"
        );
    }
}
