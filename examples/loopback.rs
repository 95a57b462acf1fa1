//! Two peers in one process, connected over loopback, exchanging messages.
//!
//! Run: `cargo run --release --example loopback`
//!
//! The "signaling channel" here is a loop that hands each peer's description and
//! candidates to the other; in an application it is your server or any message bus.

use futures::StreamExt;
use unipeer::{DataChannelInit, HostCandidates, Message, Peer, PeerConfig, PeerEvent};

fn main() -> unipeer::Result<()> {
    futures::executor::block_on(run())
}

async fn run() -> unipeer::Result<()> {
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

    // Trickle candidates both ways until Bob sees Alice's channel.
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
    println!(
        "connected: channel {:?} is open on both sides",
        chat.label()
    );

    // Bob echoes what Alice says, upper-cased.
    let echo = async {
        while let Some(Message::Text(t)) = bob_chat.recv().await {
            bob_chat.send_text(t.to_uppercase()).await?;
        }
        Ok::<_, unipeer::Error>(())
    };
    let talk = async {
        for line in ["hello bob", "how are you?", "bye"] {
            chat.send_text(line).await?;
            if let Some(Message::Text(reply)) = chat.recv().await {
                println!("alice -> {line:?}, bob -> {reply:?}");
            }
        }
        chat.close();
        Ok::<_, unipeer::Error>(())
    };
    let (echoed, talked) = futures::join!(echo, talk);
    echoed?;
    talked?;
    alice.close().await;
    println!("done");
    Ok(())
}
