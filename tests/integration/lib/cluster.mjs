// cluster: what the cluster-mode tests (cluster_*.mjs) share: the skip when nats-server or a
// libnats build is missing, free ports, a nats-server waited for through its monitoring port, a
// stream's entry in a server's /jsz, a load generator, and a TCP proxy that can cut a client off
// its server (a network partition). The daemon's refusal check (refusedAtStart) is in harness.mjs.
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { pool, request, waitFor, START_LIMIT_MS } from './harness.mjs';

// requireNats: exits 77 (ctest's skip) with one line naming what is missing.
export function requireNats(name, natsBin, hasNats) {
  if (!natsBin || !existsSync(natsBin)) {
    console.log(`${name}: SKIP: nats-server is not installed (scripts/install-deps.sh installs it)`);
    process.exit(77);
  }
  if (hasNats !== '1') {
    console.log(`${name}: SKIP: nearftd was built without libnats (libnats-dev): no cluster mode`);
    process.exit(77);
  }
}

// freePorts: n distinct free ports, all held open until every one is known (a port closed at once
// could be handed out again by the next listen(0)).
export async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    servers.push(await new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    }));
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// startNats: nats-server with args (its output appended to logFile), resolved once its monitoring
// port mon answers /healthz with JetStream enabled. The caller stops the process it returns.
export async function startNats(natsBin, args, mon, logFile) {
  const out = openSync(logFile, 'a');
  const proc = spawn(natsBin, args, { stdio: ['ignore', out, out] });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nats-server exited (see ${logFile})`);
    try { return (await request(mon, 'GET', '/healthz?js-enabled-only=true')).status === 200; } catch { return false; }
  }, 'nats-server to start', START_LIMIT_MS, 100);
  return proc;
}


// streamInfo: the stream's entry (name, state, cluster) in the /jsz?streams=1 of the nats-server
// whose monitoring port is mon, or null when that server does not list it or does not answer.
export async function streamInfo(mon, name) {
  try {
    const j = (await request(mon, 'GET', '/jsz?streams=1')).body;
    for (const a of j.account_details || [])
      for (const x of a.stream_detail || []) if (x.name === name) return x;
  } catch { /* not answering */ }
  return null;
}

// startCutProxy: a TCP proxy from a free port on 127.0.0.1 to upstreamPort, for a network
// partition between one client and a server. cut() stops every byte both ways: the connections
// stay open, nothing is read and nothing is reset, as when a link or a route fails (the
// client's writes pile up in the kernel's buffers; no answer comes back). heal() lets the
// buffered bytes through and what follows. A connection made while cut is accepted and waits,
// unanswered, until heal(). close() ends every connection and the listener.
export async function startCutProxy(upstreamPort) {
  const pairs = new Set();
  let cut = false;
  const forward = (from, to) => from.on('data', (d) => {
    if (!to.write(d)) {
      from.pause();
      to.once('drain', () => { if (!cut) from.resume(); });
    }
  });
  const server = createServer((c) => {
    const u = connect(upstreamPort, '127.0.0.1');
    const pair = { c, u };
    pairs.add(pair);
    const end = () => { c.destroy(); u.destroy(); pairs.delete(pair); };
    for (const s of [c, u]) { s.on('error', end); s.on('close', end); }
    forward(c, u);
    forward(u, c);
    if (cut) { c.pause(); u.pause(); }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    port: server.address().port,
    connections: () => pairs.size,
    cut() {
      cut = true;
      for (const { c, u } of pairs) { c.pause(); u.pause(); }
    },
    heal() {
      cut = false;
      for (const { c, u } of pairs) { c.resume(); u.resume(); }
    },
    close() {
      for (const { c, u } of pairs) { c.destroy(); u.destroy(); }
      pairs.clear();
      return new Promise((r) => server.close(r));
    },
  };
}

// loadTransfers: six workers POST transfers to port until st.stop is set: three send bulk
// requests of 1 to 40 transfers, three single ones, every memo unique (`${tag}-...`); a request
// that gets no answer in 30 s (or is cut) counts as not acknowledged. onAccepted(transfers) is
// called for each 202. Returns st; st.done resolves once every worker stopped.
let loadSeq = 0;
export function loadTransfers(port, tag, onAccepted) {
  const st = { stop: false };
  st.done = pool(6, 6, async (w) => {
    for (let k = 0; !st.stop; k++) {
      const n = w < 3 ? 1 + ((k * 7 + w) % 40) : 1;
      const transfers = Array.from({ length: n }, (_, i) => ({
        receiver_id: `user-${(w * 131 + k * 7 + i) % 500}.test.near`, amount: String(1 + (i % 5)),
        memo: `${tag}-${w}-${k}-${i}-${loadSeq++}` }));
      try {
        const r = await request(port, 'POST', '/v1/transfers', n === 1 ? transfers[0] : { transfers },
          { timeoutMs: 30000 });
        if (r.status === 202) onAccepted(transfers);
      } catch { /* cut by a kill or a stop: not acknowledged */ }
    }
  });
  return st;
}
