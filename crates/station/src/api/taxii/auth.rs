//! Who reads over TAXII, and whether they can take the answer.
//!
//! TAXII clients speak HTTP Basic: the user name and the user's API token as
//! the password. The token decides who it is; a name that is not the token's
//! user is refused, so a token is never used under another name. A bearer
//! token works too. Every role may read, as everywhere else in the API.

use super::{TaxiiError, MEDIA_TYPE};
use crate::api::{allowed, Act, Api, User};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};

/// A signed-in user whose request accepts TAXII 2.1 answers. A handler that
/// takes it runs for no one else: 401 (with `WWW-Authenticate: Basic`)
/// without valid credentials, then 406 for an `Accept` it cannot satisfy.
#[derive(Debug)]
pub struct Reader;

impl FromRequestParts<Api> for Reader {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Self, TaxiiError> {
        let user = signed_in(&parts.headers, api)?;
        allowed(user.role, Act::Read).map_err(|why| TaxiiError::new(StatusCode::FORBIDDEN, why))?;
        if !acceptable(&parts.headers) {
            return Err(TaxiiError::new(
                StatusCode::NOT_ACCEPTABLE,
                format!("this server answers in {MEDIA_TYPE}; send it in the Accept header"),
            ));
        }
        Ok(Reader)
    }
}

/// The user of a request's `Authorization` header, Basic or Bearer.
fn signed_in(headers: &HeaderMap, api: &Api) -> Result<User, TaxiiError> {
    let refused = || {
        TaxiiError::new(
            StatusCode::UNAUTHORIZED,
            "sign in with HTTP Basic: a user name and that user's API token as the password",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(refused)?;
    let (scheme, credentials) = value.trim().split_once(' ').ok_or_else(refused)?;
    if scheme.eq_ignore_ascii_case("bearer") {
        return api.user(credentials.trim()).map_err(|_| refused());
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let (name, token) = basic(credentials.trim()).ok_or_else(refused)?;
    let user = api.user(&token).map_err(|_| refused())?;
    if user.name != name {
        return Err(refused());
    }
    Ok(user)
}

/// `name:password` from Basic credentials (RFC 7617): base64 of UTF-8, split
/// at the first colon (a name has none; a password may).
fn basic(credentials: &str) -> Option<(String, String)> {
    let bytes = data_encoding::BASE64.decode(credentials.as_bytes()).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (name, password) = text.split_once(':')?;
    Some((name.to_owned(), password.to_owned()))
}

/// Whether the `Accept` header admits a TAXII 2.1 answer: no header, `*/*`,
/// `application/*`, or `application/taxii+json` with no version or 2.1
/// (TAXII 2.1 §1.6.8.1), any of them with a nonzero `q`.
pub fn acceptable(headers: &HeaderMap) -> bool {
    let Some(accept) = headers.get(header::ACCEPT) else {
        return true;
    };
    let Ok(accept) = accept.to_str() else {
        return false;
    };
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let mut version = None;
        let mut q_zero = false;
        for p in parts {
            let Some((k, v)) = p.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "version" => version = Some(v.to_owned()),
                "q" => q_zero = v.parse::<f32>().is_ok_and(|q| q <= 0.0),
                _ => {}
            }
        }
        let fits = match media.as_str() {
            "*/*" | "application/*" => true,
            "application/taxii+json" => version.as_deref().is_none_or(|v| v == "2.1"),
            _ => false,
        };
        fits && !q_zero
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, v.parse().unwrap());
        acceptable(&h)
    }

    #[test]
    fn taxii_2_1_and_wildcards_are_acceptable_and_others_are_not() {
        assert!(acceptable(&HeaderMap::new()));
        for ok in [
            "application/taxii+json;version=2.1",
            "application/taxii+json; version=2.1",
            "application/taxii+json",
            "*/*",
            "application/*",
            "text/html, application/taxii+json;version=2.1;q=0.9",
            "application/TAXII+json;version=\"2.1\"",
        ] {
            assert!(accept(ok), "{ok}");
        }
        for bad in [
            "application/taxii+json;version=2.0",
            "application/vnd.oasis.taxii+json",
            "application/json",
            "application/stix+json;version=2.1",
            "text/html",
            "application/taxii+json;version=2.1;q=0",
            "",
        ] {
            assert!(!accept(bad), "{bad}");
        }
    }

    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let enc = |s: &str| data_encoding::BASE64.encode(s.as_bytes());
        assert_eq!(
            basic(&enc("alice:hlt_a:b")),
            Some(("alice".into(), "hlt_a:b".into()))
        );
        assert_eq!(basic(&enc("alice")), None);
        assert_eq!(basic("not base64!"), None);
    }
}
