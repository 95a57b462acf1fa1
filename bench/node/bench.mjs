// libdatachannel (npm node-datachannel) baseline for `cargo xtask bench`.
//
// Both peers live in this process and talk over 127.0.0.1 only: each peer binds 127.0.0.1
// (`bindAddress`), has no ICE servers and no UDP mux, and every local candidate is checked to
// be a loopback address before it is forwarded (a non-loopback one aborts the run).
//
// Phases (same order and definitions as the Rust benches): warm-up pair, memory (100
// connected pairs), connect (20 runs), throughput (16 KiB and 64 KiB messages, 256 MiB each,
// measured at the receiver from first to last byte, MB = 10^6 bytes), RTT (64-byte ping-pong,
// 200 warm-up + 10,000 measured). Percentiles are nearest-rank. Prints one JSON object on
// stdout; progress goes to stderr. Run with `node --expose-gc bench.mjs` so the memory phase
// can collect garbage first.

import { readFileSync } from 'node:fs';
import nodeDataChannel from 'node-datachannel';

const { PeerConnection, getLibraryVersion } = nodeDataChannel;
const pkgVersion = JSON.parse(
  readFileSync(new URL('./node_modules/node-datachannel/package.json', import.meta.url), 'utf8'),
).version;

const CONNECT_RUNS = 20;
const THROUGHPUT_BYTES = 256 * 1024 * 1024;
const RTT_PAYLOAD = 64;
const RTT_ROUNDS = 10_000;
const RTT_WARMUP = 200;
const RSS_PAIRS = 100;
const RSS_BATCH = 10;
const PHASE_TIMEOUT_MS = 180_000;
const CONNECT_TIMEOUT_MS = 20_000;
// Sender back-pressure, the browser way: stop sending above HIGH buffered bytes, resume on
// the bufferedAmountLow event (threshold LOW).
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

const RTC_CONFIG = {
  iceServers: [],
  bindAddress: '127.0.0.1',
  enableIceUdpMux: false,
  enableIceTcp: false,
};

// Hard cap on the whole run: never hang.
setTimeout(() => {
  console.error('libdatachannel: whole run exceeded 15 minutes, aborting');
  process.exit(2);
}, 15 * 60_000).unref();

const log = (msg) => console.error(`libdatachannel: ${msg}`);
const now = () => performance.now(); // ms, sub-microsecond resolution

function percentile(samples, p) {
  const s = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(Math.max(rank, 1), s.length) - 1];
}

const round = (x, digits) => Math.round(x * 10 ** digits) / 10 ** digits;

function rssKib() {
  const line = readFileSync('/proc/self/status', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  return Number(line.replace(/[^0-9]/g, ''));
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isLoopback(addr) {
  return addr === '::1' || /^127\.\d+\.\d+\.\d+$/.test(addr);
}

// "a=candidate:<foundation> <component> <transport> <priority> <address> <port> typ ..."
function candidateAddress(candidate) {
  const fields = candidate.replace(/^a=/, '').replace(/^candidate:/, '').trim().split(/\s+/);
  return fields[4];
}

let pcCounter = 0;
let loggedCandidate = false;

// Creates two peers, signals in-process (trickle ICE) and resolves once the data channel is
// open on both sides. A reliable ordered channel (the default init).
function connect() {
  const a = new PeerConnection(`a${pcCounter}`, RTC_CONFIG);
  const b = new PeerConnection(`b${pcCounter++}`, RTC_CONFIG);
  const pair = { a, b, chA: null, chB: null, closed: false };
  const opened = new Promise((resolve, reject) => {
    let openA = false;
    let openB = false;
    const check = () => openA && openB && resolve(pair);
    // Callbacks come from separate native queues, and the answerer creates its ICE transport
    // only once it has made its answer: hold candidates for a peer until it has both its
    // local and its remote description.
    const state = new Map([a, b].map((pc) => [pc, { local: false, remote: false, pending: [] }]));
    const flush = (pc) => {
      const st = state.get(pc);
      if (pair.closed || !st.local || !st.remote) return;
      for (const [candidate, mid] of st.pending.splice(0)) {
        try {
          pc.addRemoteCandidate(candidate, mid);
        } catch (e) {
          reject(e);
        }
      }
    };
    const wire = (from, to) => {
      from.onLocalDescription((sdp, type) => {
        if (pair.closed) return;
        state.get(from).local = true;
        flush(from);
        to.setRemoteDescription(sdp, type);
        state.get(to).remote = true;
        flush(to);
      });
      from.onLocalCandidate((candidate, mid) => {
        const addr = candidateAddress(candidate);
        if (!isLoopback(addr)) {
          reject(new Error(`non-loopback candidate ${addr}: ${candidate}`));
          return;
        }
        if (!loggedCandidate) {
          loggedCandidate = true;
          log(`first local candidate: ${candidate}`);
        }
        state.get(to).pending.push([candidate, mid]);
        flush(to);
      });
      from.onStateChange((state) => {
        if (state === 'failed') reject(new Error('peer connection failed'));
      });
    };
    wire(a, b);
    wire(b, a);
    b.onDataChannel((dc) => {
      pair.chB = dc;
      const opened = () => {
        openB = true;
        check();
      };
      // Announced channels are normally open already.
      if (dc.isOpen()) opened();
      else dc.onOpen(opened);
    });
    pair.chA = a.createDataChannel('bench');
    pair.chA.onOpen(() => {
      openA = true;
      check();
    });
  });
  return withTimeout(opened, CONNECT_TIMEOUT_MS, 'connect').catch((e) => {
    closePair(pair);
    throw e;
  });
}

function closePair(pair) {
  pair.closed = true;
  try {
    pair.chA?.close();
    pair.chB?.close();
    pair.a.close();
    pair.b.close();
  } catch (e) {
    log(`close: ${e}`);
  }
}

const settle = (ms) => new Promise((r) => setTimeout(r, ms));

async function phaseRss() {
  globalThis.gc?.();
  await settle(200);
  const before = rssKib();
  const pairs = [];
  while (pairs.length < RSS_PAIRS) {
    const n = Math.min(RSS_BATCH, RSS_PAIRS - pairs.length);
    pairs.push(...(await Promise.all(Array.from({ length: n }, connect))));
  }
  await settle(500);
  globalThis.gc?.();
  const after = rssKib();
  const perPeer = (after - before) / (2 * RSS_PAIRS);
  log(`rss ${before} KiB -> ${after} KiB with ${RSS_PAIRS} pairs: ${perPeer.toFixed(0)} KiB/peer`);
  pairs.forEach(closePair);
  await settle(500);
  return perPeer;
}

async function phaseConnect() {
  const samples = [];
  for (let i = 0; i < CONNECT_RUNS; i++) {
    const t0 = now();
    const pair = await connect();
    samples.push(now() - t0);
    closePair(pair);
  }
  return samples;
}

async function phaseThroughput(msgSize) {
  const pair = await connect();
  const count = THROUGHPUT_BYTES / msgSize;
  const buf = Buffer.alloc(msgSize, 0xab);
  const done = new Promise((resolve, reject) => {
    let received = 0;
    let first = 0;
    pair.chB.onMessage((msg) => {
      if (received === 0) first = now();
      received += msg.byteLength;
      if (received >= THROUGHPUT_BYTES) resolve(now() - first);
    });
    pair.chB.onClosed(() => reject(new Error(`closed after ${received} bytes`)));
  });
  let sent = 0;
  const pump = () => {
    while (sent < count && pair.chA.bufferedAmount() <= HIGH_WATER) {
      pair.chA.sendMessageBinary(buf);
      sent++;
    }
  };
  pair.chA.setBufferedAmountLowThreshold(LOW_WATER);
  pair.chA.onBufferedAmountLow(pump);
  pump();
  const ms = await withTimeout(done, PHASE_TIMEOUT_MS, 'throughput');
  closePair(pair);
  const mbs = THROUGHPUT_BYTES / 1e6 / (ms / 1e3);
  log(`throughput ${msgSize / 1024} KiB messages: ${mbs.toFixed(1)} MB/s (${(ms / 1e3).toFixed(2)} s)`);
  return mbs;
}

async function phaseRtt() {
  const pair = await connect();
  pair.chB.onMessage((msg) => pair.chB.sendMessageBinary(msg));
  const payload = Buffer.alloc(RTT_PAYLOAD, 0x5a);
  const samples = [];
  const done = new Promise((resolve, reject) => {
    let i = 0;
    let t0 = 0;
    const ping = () => {
      t0 = now();
      pair.chA.sendMessageBinary(payload);
    };
    pair.chA.onMessage((msg) => {
      const rtt = now() - t0;
      if (msg.byteLength !== RTT_PAYLOAD) {
        reject(new Error(`echo of ${msg.byteLength} bytes`));
        return;
      }
      if (i >= RTT_WARMUP) samples.push(rtt * 1e3);
      i++;
      if (i < RTT_WARMUP + RTT_ROUNDS) ping();
      else resolve();
    });
    ping();
  });
  await withTimeout(done, PHASE_TIMEOUT_MS, 'rtt');
  closePair(pair);
  return samples;
}

async function main() {
  log(`node-datachannel ${pkgVersion}, libdatachannel ${getLibraryVersion()}`);
  log('warm-up pair');
  closePair(await connect());

  log(`memory, ${RSS_PAIRS} pairs`);
  const rss = await withTimeout(phaseRss(), PHASE_TIMEOUT_MS, 'memory phase');

  log(`connect, ${CONNECT_RUNS} runs`);
  const connectMs = await withTimeout(phaseConnect(), PHASE_TIMEOUT_MS, 'connect phase');
  const connectP50 = percentile(connectMs, 50);
  const connectMax = Math.max(...connectMs);
  log(`connect p50 ${connectP50.toFixed(1)} ms, max ${connectMax.toFixed(1)} ms`);

  const tp16 = await phaseThroughput(16 * 1024);
  const tp64 = await phaseThroughput(64 * 1024);

  log(`rtt, ${RTT_ROUNDS} rounds`);
  const rtt = await phaseRtt();
  const rttP50 = percentile(rtt, 50);
  const rttP99 = percentile(rtt, 99);
  log(`rtt p50 ${rttP50.toFixed(1)} us, p99 ${rttP99.toFixed(1)} us`);

  console.log(
    JSON.stringify({
      version: `node-datachannel ${pkgVersion} (libdatachannel ${getLibraryVersion()})`,
      connect_ms_p50: round(connectP50, 2),
      connect_ms_max: round(connectMax, 2),
      throughput_mbs_16k: round(tp16, 2),
      throughput_mbs_64k: round(tp64, 2),
      rtt_us_p50: round(rttP50, 1),
      rtt_us_p99: round(rttP99, 1),
      rss_kib_per_peer: round(rss, 1),
    }),
  );
}

main()
  .then(async () => {
    // Let closed connections finish tearing down, then exit without `cleanup()`: with
    // node-datachannel 0.33.4 `cleanup()` after many closed connections can crash the
    // process (SIGSEGV), and `process.exit` releases everything anyway.
    await settle(500);
    process.exit(0);
  })
  .catch((e) => {
    console.error(`libdatachannel: ${e.stack ?? e}`);
    process.exit(1);
  });
