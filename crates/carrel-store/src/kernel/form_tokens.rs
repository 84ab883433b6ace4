//! Form tokens, against cross-site request forgery: every form Carrel
//! serves that changes something carries one, and a form posted back
//! without the right one is refused (the server checks them all in one
//! layer, `carrel_server::pages::forms::guard`).
//!
//! A token is derived from a secret the browser holds in an HttpOnly
//! cookie: the session token once someone is signed in, before that a
//! random browser secret (for the sign-in forms). Another site can make a
//! browser post a form, but cannot read the cookie, so it cannot put the
//! token in the form. Nothing more is stored: the session's own hash in
//! the database is a different digest, so the database does not give the
//! token away either.

use crate::error::Error;
use crate::secrets::{random_token, sha256_hex};

/// The form token for forms served to the browser holding `secret`.
pub fn form_token(secret: &str) -> String {
    sha256_hex(format!("carrel form\0{secret}").as_bytes())
}

/// Whether `given` is the form token of `secret`, compared in constant
/// time.
pub fn form_token_matches(secret: &str, given: &str) -> bool {
    let expected = form_token(secret);
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |differ, (a, b)| differ | (a ^ b))
            == 0
}

/// A new random browser secret, for a browser not signed in yet.
pub fn new_browser_secret() -> Result<String, Error> {
    random_token()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_only_its_own_secret() {
        let a = new_browser_secret().unwrap();
        let b = new_browser_secret().unwrap();
        assert_ne!(a, b);
        assert!(form_token_matches(&a, &form_token(&a)));
        assert!(!form_token_matches(&b, &form_token(&a)));
        assert!(!form_token_matches(&a, ""));
        assert!(!form_token_matches(&a, &form_token(&a)[1..]));
    }
}
