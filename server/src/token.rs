//! Room tokens: `base64url(room "|" expires_at) "." base64url(HMAC-SHA256(secret, room "|" expires_at))`.
//!
//! base64url is the URL-safe alphabet without padding (RFC 4648 §5); `expires_at` is a decimal
//! Unix time in seconds; the MAC is computed over the decoded claim bytes. A token is valid for
//! its room while the current Unix time is strictly less than `expires_at`.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest token the server looks at; longer ones are rejected without decoding.
const MAX_TOKEN_LEN: usize = 512;

/// Why a token was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not of the form `claims.mac`, not base64url, or claims not `room|expiry`.
    Malformed,
    /// The MAC does not verify with the server's secret.
    BadSignature,
    /// `expires_at` is in the past.
    Expired,
    /// The token was minted for another room.
    WrongRoom,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "malformed token",
            TokenError::BadSignature => "bad token signature",
            TokenError::Expired => "token expired",
            TokenError::WrongRoom => "token not valid for this room",
        })
    }
}

impl std::error::Error for TokenError {}

fn mac(secret: &[u8], claims: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(claims);
    mac
}

/// Mints a token for `room` that expires at `expires_at` (Unix time, seconds).
pub fn mint_token(secret: impl AsRef<[u8]>, room: &str, expires_at: u64) -> String {
    let claims = format!("{room}|{expires_at}");
    let tag = mac(secret.as_ref(), claims.as_bytes())
        .finalize()
        .into_bytes();
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(claims.as_bytes()),
        URL_SAFE_NO_PAD.encode(tag)
    )
}

/// Mints a token for `room` that expires `ttl` from now.
pub fn mint_token_ttl(secret: impl AsRef<[u8]>, room: &str, ttl: Duration) -> String {
    mint_token(secret, room, unix_now().saturating_add(ttl.as_secs()))
}

/// Checks `token` for `room` at Unix time `now` (seconds).
pub fn verify_token(
    secret: impl AsRef<[u8]>,
    token: &str,
    room: &str,
    now: u64,
) -> Result<(), TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed);
    }
    let (claims_b64, tag_b64) = token.split_once('.').ok_or(TokenError::Malformed)?;
    let claims = URL_SAFE_NO_PAD
        .decode(claims_b64)
        .map_err(|_| TokenError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| TokenError::Malformed)?;
    mac(secret.as_ref(), &claims)
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let claims = std::str::from_utf8(&claims).map_err(|_| TokenError::Malformed)?;
    let (token_room, expiry) = claims.rsplit_once('|').ok_or(TokenError::Malformed)?;
    if expiry.is_empty() || !expiry.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TokenError::Malformed);
    }
    let expires_at: u64 = expiry.parse().map_err(|_| TokenError::Malformed)?;
    if token_room != room {
        return Err(TokenError::WrongRoom);
    }
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(())
}

/// Current Unix time in seconds.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let t = mint_token("s3cret", "room-1", 1_000);
        assert_eq!(verify_token("s3cret", &t, "room-1", 999), Ok(()));
        assert_eq!(
            verify_token(b"s3cret", &t, "room-1", 1_000),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify_token("other", &t, "room-1", 0),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            verify_token("s3cret", &t, "room-2", 0),
            Err(TokenError::WrongRoom)
        );
        assert_eq!(
            verify_token("s3cret", "garbage", "room-1", 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify_token("s3cret", "a.b.c", "room-1", 0),
            Err(TokenError::Malformed)
        );
        assert_eq!(
            verify_token("s3cret", "", "room-1", 0),
            Err(TokenError::Malformed)
        );
        let long = "A".repeat(600) + ".B";
        assert_eq!(
            verify_token("s3cret", &long, "room-1", 0),
            Err(TokenError::Malformed)
        );
        // Tampering with the claims breaks the signature.
        let (_, tag) = t.split_once('.').unwrap();
        let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode("room-1|99999"));
        assert_eq!(
            verify_token("s3cret", &forged, "room-1", 0),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn known_vector() {
        // Independent implementations can check themselves against this vector.
        let t = mint_token("secret", "lobby", 1_700_000_000);
        assert_eq!(t.split_once('.').unwrap().0, "bG9iYnl8MTcwMDAwMDAwMA");
        assert_eq!(t, KNOWN_VECTOR);
    }

    /// `mint_token("secret", "lobby", 1700000000)`, quoted in docs/signaling.md.
    const KNOWN_VECTOR: &str = "bG9iYnl8MTcwMDAwMDAwMA.erqHEybb0YyOuvB0ysjfpBRQzsUqoZfzE57gXbmI3nU";

    #[test]
    fn ttl_tokens_are_valid_now() {
        let t = mint_token_ttl("k", "r", Duration::from_secs(60));
        assert_eq!(verify_token("k", &t, "r", unix_now()), Ok(()));
    }
}
