use unipeer::rpc::{CallOptions, RpcConfig, RpcError};

use super::rpcs;

const MIB: usize = 1 << 20;

/// A test pattern that shows misplaced or lost pieces.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 16) as u8)
        .collect()
}

/// Payloads of 1 MiB (four times the channel's message limit) go both ways, typed and
/// raw, split and joined transparently, with small calls interleaved.
pub async fn rpc_payloads_of_one_mib() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    r.b.register("echo", |bytes: Vec<u8>| async move { Ok(bytes) });
    r.b.register(
        "sized",
        |len: u32| async move { Ok(pattern(len as usize, 3)) },
    );
    r.b.register_raw("echo_raw", |bytes: Vec<u8>| async move { Ok(bytes) });
    r.b.register("add", |(a, b): (i64, i64)| async move { Ok(a + b) });
    drivers
        .run(async {
            let big = pattern(MIB, 1);
            assert!(big.len() > 4 * r.a.channel().max_message_size() - 1024);
            let (echoed, small, raw, sized) = futures::join!(
                r.a.call::<_, Vec<u8>>("echo", &big),
                r.a.call::<_, i64>("add", &(20i64, 22i64)),
                r.a.call_raw("echo_raw", &big, CallOptions::default()),
                r.a.call::<_, Vec<u8>>("sized", &(MIB as u32)),
            );
            assert!(echoed.unwrap() == big, "typed echo differs");
            assert_eq!(small.unwrap(), 42);
            assert!(raw.unwrap() == big, "raw echo differs");
            assert!(sized.unwrap() == pattern(MIB, 3), "response differs");
        })
        .await;
}

/// Payloads above the limit fail with `PayloadTooLarge`: a request checked here, a request
/// refused by the remote's smaller limit, and a response above this side's limit. The
/// channel carries on after each.
pub async fn rpc_payload_limits() {
    let a_config = RpcConfig {
        max_payload: 2 * MIB,
        ..Default::default()
    };
    let b_config = RpcConfig {
        max_payload: MIB / 2,
        ..Default::default()
    };
    let (r, drivers) = rpcs(a_config, b_config).await;
    r.b.register_raw("len", |bytes: Vec<u8>| async move {
        Ok((bytes.len() as u64).to_le_bytes().to_vec())
    });
    r.b.register_raw("make", |len: Vec<u8>| async move {
        let len = u64::from_le_bytes(len.try_into().map_err(|_| RpcError::handler("8 bytes"))?);
        Ok(vec![5u8; len as usize])
    });
    drivers
        .run(async {
            let options = CallOptions::default();
            let e =
                r.a.call_raw("len", &vec![0; 3 * MIB], options)
                    .await
                    .unwrap_err();
            let local = RpcError::PayloadTooLarge {
                size: 3 * MIB as u64,
                limit: 2 * MIB as u64,
            };
            assert_eq!(e, local);

            let e =
                r.a.call_raw("len", &vec![0; MIB], options)
                    .await
                    .unwrap_err();
            let RpcError::PayloadTooLarge { size, limit } = e else {
                panic!("expected the remote's limit, got {e:?}");
            };
            assert_eq!(limit, MIB as u64 / 2);
            assert!(size > limit);

            let three = (3 * MIB as u64).to_le_bytes();
            let e = r.a.call_raw("make", &three, options).await.unwrap_err();
            assert!(
                matches!(e, RpcError::PayloadTooLarge { limit, .. } if limit == 2 * MIB as u64),
                "{e:?}"
            );

            let ok =
                r.a.call_raw("len", &vec![0; MIB / 4], options)
                    .await
                    .unwrap();
            assert_eq!(ok, (MIB as u64 / 4).to_le_bytes());
        })
        .await;
}
