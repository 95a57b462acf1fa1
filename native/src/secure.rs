//! Secrets str0m would otherwise draw from a non-cryptographic generator.

use str0m::IceCreds;
use unipeer_core::{Error, Result};

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Fresh local ICE credentials from the operating system's secure generator: a 64-bit
/// ufrag and a 144-bit password (RFC 8445 asks for at least 24 and 128 bits).
pub(crate) fn ice_credentials() -> Result<IceCreds> {
    Ok(IceCreds {
        ufrag: random_ice_chars(11)?,
        pass: random_ice_chars(24)?,
    })
}

/// `n` characters of the ICE alphabet, 6 bits each.
fn random_ice_chars(n: usize) -> Result<String> {
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::Io(format!("the secure random generator failed: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| ALPHABET[usize::from(b & 63)] as char)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_fresh_and_well_formed() {
        let a = ice_credentials().unwrap();
        let b = ice_credentials().unwrap();
        assert_ne!(a.ufrag, b.ufrag);
        assert_ne!(a.pass, b.pass);
        assert_eq!(a.pass.len(), 24);
        assert!(a.pass.bytes().all(|c| ALPHABET.contains(&c)));
    }
}
