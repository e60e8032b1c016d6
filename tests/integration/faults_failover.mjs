// faults_failover: two --rpc-url endpoints on ONE chain: a dead port (connection refused) listed
// first, and an in-process proxy in front of nearsim that checks the per-endpoint header and can
// be switched to answer 502 to everything (breaker, failover, "every endpoint open" and
// transport/5xx rows of docs/ERRORS.md). Asserts:
//  1. failover: the dead endpoint's breaker opens, traffic goes to the proxy, every transfer lands
//     exactly once, the proxy saw its own header on every request and never the dead one's;
//  2. every endpoint open: /health red with the breaker reason, signing paused, ingest keeps
//     accepting (202) until --queue-capacity and only then answers 503 with Retry-After; a
//     waiting client gets its answer within --wait-timeout-ms;
//  3. recovery: the proxy heals, the breaker closes by itself (transitions in /metrics), /health
//     green, every accepted transfer executed exactly once.
// Usage: node faults_failover.mjs NEARSIM NEARFTD
import http from 'node:http';
import net from 'node:net';
import { startSim, startDaemon, request, pool, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { metrics, health, timed, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
const WAIT_MS = 2000, CAPACITY = 400;

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const p = srv.address().port; srv.close(() => resolve(p)); });
  });
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '1500']);
const proxyStats = { requests: 0, goodHeader: 0, badHeader: 0 };
let proxyMode = 'pass';
const upstream = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    proxyStats.requests++;
    const key = req.headers['x-api-key'];
    if (key === 'secret-a') proxyStats.goodHeader++;
    else proxyStats.badHeader++;
    if (proxyMode === 'fail') { res.writeHead(502, { 'content-type': 'text/plain' }); res.end('bad gateway'); return; }
    const body = Buffer.concat(chunks);
    const up = http.request({ host: '127.0.0.1', port: sim.port, method: 'POST', path: '/', agent: upstream,
      headers: { 'content-type': 'application/json', 'content-length': body.length } }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => { try { res.destroy(); } catch {} });
    up.end(body);
  });
});
await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
const proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
const deadUrl = `http://127.0.0.1:${await freePort()}`;

const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--rpc-header', `${proxyUrl}=X-Api-Key:secret-a`, '--rpc-header', `${deadUrl}=X-Api-Key:secret-dead`,
  '--wait-timeout-ms', String(WAIT_MS), '--queue-capacity', String(CAPACITY),
  '--batch-linger-ms', '5', '--batch-max-actions', '20', '--inflight-per-key', '4',
  '--rpc-timeout-ms', '10000', '--breaker-min-requests', '5', '--breaker-window-ms', '2000',
  '--breaker-cooldown-ms', '300', '--breaker-probes', '2', '--block-hash-refresh-ms', '500'],
  { logFile: join(sim.dir, 'nearftd.log'), rpcUrls: [deadUrl, proxyUrl] });
let code = 1;
try {
  const h0 = await health(d.port);
  const urls = h0.body.rpc.map((e) => e.url);
  check(urls.includes(deadUrl) && urls.includes(proxyUrl), `endpoints: ${urls.join(' ')}`);
  check(urls.length === 2, 'only the two test endpoints are configured');
  const ids = new Map();
  async function load(tag, n, per = 20) {
    const out = [];
    await pool(Math.ceil(n / per), 4, async (b) => {
      const transfers = Array.from({ length: Math.min(per, n - b * per) }, (_, k) => ({
        receiver_id: `user-${(b * per + k) % 300}.test.near`, amount: '6', memo: `${tag}-${b * per + k}` }));
      const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
      out.push(r);
      if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
    });
    return out;
  }
  // 1. failover
  const r1 = await load('fo', 300);
  check(r1.every((r) => r.status === 202), 'failover load accepted');
  await waitAllFinal(d.port, [...ids.keys()], 'failover', 60000);
  const m1 = await metrics(d.port);
  check(m1.get(`nearft_breaker_transitions_total{url="${deadUrl}",to="open"}`) >= 1, 'dead endpoint breaker opened');
  check(m1.get(`nearft_rpc_errors_total{url="${deadUrl}"}`) >= 5, 'dead endpoint errors counted');
  check(m1.get(`nearft_breaker_transitions_total{url="${proxyUrl}",to="open"}`) === 0, 'healthy endpoint never opened');
  check(proxyStats.requests > 0 && proxyStats.badHeader === 0,
        `proxy got its header on every request (${proxyStats.goodHeader}/${proxyStats.requests})`);

  // 2. every endpoint open
  proxyMode = 'fail';
  // Traffic makes the breakers see the failures (an idle service only refreshes its block hash).
  check((await load('trigger', 200)).every((r) => r.status === 202), 'trigger transfers accepted');
  await waitFor(async () => (await health(d.port)).status === 503, '/health red with every endpoint open',
                20000, 100);
  const red = await health(d.port);
  check(red.body.reasons.some((x) => /circuit breaker/.test(x)), `breaker reason: ${JSON.stringify(red.body.reasons)}`);
  check((await metrics(d.port)).get('nearft_signing_paused') === 1, 'signing paused');
  // A waiting client is answered within its timeout.
  const w = await timed(d.port, 'POST', '/v1/transfers?wait=executed',
    { receiver_id: 'user-7.test.near', amount: '1', memo: 'fo-wait' }, { timeoutMs: WAIT_MS + 5000 });
  // WAIT_MS + 20 s: a hang detector (a loaded TSan build answers late by seconds, not by 20).
  check(w.status >= 200 && w.status < 300 && w.ms <= WAIT_MS + 20000,
        `waiting request answered in ${w.ms} ms (status ${w.status})`);
  if (w.status === 202 || w.status === 200) ids.set(w.body.id, 'fo-wait');
  // Accepted until the queue is full, then 503 + Retry-After.
  let accepted = 0, first503 = null;
  for (let i = 0; i < 40 && !first503; i++) {
    const transfers = Array.from({ length: 25 }, (_, k) => ({ receiver_id: `user-${k}.test.near`,
      amount: '1', memo: `out-${i}-${k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    if (r.status === 202) { accepted += 25; r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo)); }
    else if (r.status === 503) first503 = r;
    else check(false, `outage POST: ${r.status}`);
  }
  check(first503 !== null, 'ingest answers 503 once the queue is full');
  check(first503 && Number(first503.headers['retry-after']) >= 1, '503 has Retry-After');
  check(accepted >= CAPACITY - 100, `accepted ${accepted} transfers during the outage before the 503`);
  const hq = await health(d.port);
  check(hq.body.queue.unsigned + 25 > CAPACITY, `queue at capacity when refusing (${hq.body.queue.unsigned})`);

  // 3. recovery
  proxyMode = 'pass';
  await waitFor(async () => (await health(d.port)).status === 200, '/health green after recovery', 20000, 100);
  const st = await waitAllFinal(d.port, [...ids.keys()], 'recovery', 60000);
  check([...st.values()].every((s) => s.status === 'executed'), 'every accepted transfer executed');
  const m3 = await metrics(d.port);
  check(m3.get(`nearft_breaker_transitions_total{url="${proxyUrl}",to="open"}`) >= 1, 'proxy breaker opened');
  check(m3.get(`nearft_breaker_transitions_total{url="${proxyUrl}",to="closed"}`) >= 1, 'proxy breaker closed again');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'failover');
  console.log(`transfers=${ids.size} proxy_requests=${proxyStats.requests} outage_accepted=${accepted}`);
  code = report('faults_failover');
} catch (e) {
  console.error(e);
  // State at the failure, for the log.
  try {
    console.error('health', JSON.stringify((await health(d.port)).body));
    const st = await request(d.port, 'GET', '/debug/stages');
    console.error('stages', st.text.slice(0, 3000));
    const m = await request(d.port, 'GET', '/metrics');
    console.error(m.text.split('\n').filter((l) => /breaker|rpc_answers|rpc_requests|rpc_errors|transactions_total|signing_paused/.test(l)).join('\n'));
  } catch { /* the daemon may be gone */ }
} finally {
  await d.stop();
  await sim.stop();
  proxy.close();
  upstream.destroy();
  keepOrClean(sim.dir, code);
}
process.exit(code);
