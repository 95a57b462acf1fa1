//! Hello, unipeer: one `main`, natively and in the browser.
//!
//! Two peers, Alice and Bob, connect and talk over a data channel. The peer code below is
//! the same on both targets; only how an `async fn` is run and where a line is printed
//! differ (the two small functions at the end).
//!
//! - Natively: `cargo run --example hello` (two peers over loopback in this process).
//! - In the browser: `cargo xtask web` builds this example for wasm32 and serves it on
//!   <http://127.0.0.1:8080/> (two peers in the page, over the browser's WebRTC).

use futures::StreamExt;
use unipeer::{DataChannelInit, HostCandidates, Message, Peer, PeerConfig, PeerEvent};
use unipeer_examples::{print_line, run};

fn main() {
    run(hello());
}

async fn hello() -> unipeer::Result<()> {
    // Both peers are on this machine (or in this page): loopback candidates only.
    let config = PeerConfig {
        host_candidates: HostCandidates::Loopback,
        ..Default::default()
    };
    let alice = Peer::new(config.clone())?;
    let bob = Peer::new(config)?;

    // Alice opens a channel and offers; Bob answers.
    let chat = alice
        .create_data_channel("chat", DataChannelInit::default())
        .await?;
    let offer = alice.create_offer().await?;
    let answer = bob.accept_offer(offer).await?;
    alice.accept_answer(answer).await?;

    // Signaling: trickle candidates both ways until Bob sees Alice's channel.
    let (mut alice_events, mut bob_events) = (alice.events(), bob.events());
    let bob_chat = loop {
        futures::select! {
            e = alice_events.next() => if let Some(PeerEvent::LocalCandidate(c)) = e {
                bob.add_ice_candidate(c).await?;
            },
            e = bob_events.next() => match e {
                Some(PeerEvent::LocalCandidate(c)) => alice.add_ice_candidate(c).await?,
                Some(PeerEvent::DataChannel(ch)) => break ch,
                _ => {}
            },
        }
    };
    chat.wait_open().await?;
    print_line("connected: the channel is open on both sides");

    // Bob answers each line, upper-cased.
    for line in ["hello bob", "how are you?"] {
        chat.send_text(line).await?;
        if let Some(Message::Text(heard)) = bob_chat.recv().await {
            bob_chat.send_text(heard.to_ascii_uppercase()).await?;
        }
        if let Some(Message::Text(reply)) = chat.recv().await {
            print_line(&format!("alice: {line}  bob: {reply}"));
        }
    }
    alice.close().await;
    print_line("done");
    Ok(())
}
