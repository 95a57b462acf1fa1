//! Servers with a shared secret admit only clients with a valid token for their room.

mod common;

use common::*;
use unipeer_server::protocol::{close_code, close_reason};
use unipeer_server::{mint_token, unix_now, ServerConfig};

const SECRET: &str = "correct horse battery staple";

async fn refused(url: &str) -> String {
    let mut ws = connect(url).await.expect("the upgrade itself succeeds");
    let (code, reason) = expect_close(&mut ws).await;
    assert_eq!(code, close_code::POLICY_VIOLATION, "{url}: {reason}");
    reason
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let server = start(ServerConfig {
        secret: Some(SECRET.into()),
        ..config()
    })
    .await;
    let url = server.room_url("lobby");
    let in_an_hour = unix_now() + 3600;
    let good = mint_token(SECRET, "lobby", in_an_hour);

    assert_eq!(refused(&url).await, close_reason::TOKEN_REQUIRED);
    assert_eq!(
        refused(&format!("{url}?token=")).await,
        close_reason::TOKEN_REQUIRED
    );
    assert_eq!(
        refused(&format!("{url}?other={good}")).await,
        close_reason::TOKEN_REQUIRED
    );
    for bad in [
        "garbage",
        "a.b",
        "..",
        &good[..good.len() - 2],
        &format!("{good}x"),
    ] {
        assert_eq!(
            refused(&format!("{url}?token={bad}")).await,
            close_reason::TOKEN_INVALID,
            "{bad}"
        );
    }
    let wrong_secret = mint_token("another secret", "lobby", in_an_hour);
    assert_eq!(
        refused(&format!("{url}?token={wrong_secret}")).await,
        close_reason::TOKEN_INVALID
    );
    let expired = mint_token(SECRET, "lobby", unix_now() - 1);
    assert_eq!(
        refused(&format!("{url}?token={expired}")).await,
        close_reason::TOKEN_EXPIRED
    );
    let other_room = mint_token(SECRET, "kitchen", in_an_hour);
    assert_eq!(
        refused(&format!("{url}?token={other_room}")).await,
        close_reason::TOKEN_WRONG_ROOM
    );
    assert_eq!(server.stats().peers, 0);

    // Good tokens work, wherever the parameter is in the query.
    let mut a = Client::join(&format!("{url}?token={good}")).await;
    let b = Client::join(&format!("{url}?v=1&token={good}&x=y")).await;
    assert_eq!(b.peers, [a.id.clone()]);
    a.expect("peer_joined").await;
    // ... and only for their own room.
    let kitchen = server.room_url("kitchen");
    Client::join(&format!("{kitchen}?token={other_room}")).await;
    assert_eq!(
        refused(&format!("{kitchen}?token={good}")).await,
        close_reason::TOKEN_WRONG_ROOM
    );
}

#[tokio::test]
async fn without_a_secret_tokens_are_ignored() {
    let server = start(config()).await;
    let url = server.room_url("r");
    Client::join(&format!("{url}?token=whatever")).await;
}

#[tokio::test]
async fn invalid_room_is_reported_before_the_token() {
    let server = start(ServerConfig {
        secret: Some(SECRET.into()),
        ..config()
    })
    .await;
    let url = room_url(server.local_addr(), "bad%20room");
    assert_eq!(refused(&url).await, close_reason::INVALID_ROOM);
}
