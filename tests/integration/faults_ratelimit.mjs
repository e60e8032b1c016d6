// faults_ratelimit: HTTP 429 with Retry-After, then shard congestion (rows "429 / rate
// limit" and "ShardCongested / ShardStuck" of docs/ERRORS.md). Asserts: 429s are counted per
// endpoint and the AIMD in-flight limit drops below --rpc-connections, then climbs back once the
// limit is lifted; ShardCongested rejections are retried later with the same bytes; every transfer
// is executed exactly once and nothing is lost. Usage: node faults_ratelimit.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, pool, audit, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, nArg] = process.argv.slice(2);
const N = Number(nArg || 2000);
const CONN = 16;
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '1500']);
// A breaker that tolerates the 429 storm (they count as errors): this test is about AIMD.
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--wait-timeout-ms', '5000', '--batch-linger-ms', '5', '--batch-max-actions', '10',
  '--inflight-per-key', '8', '--rpc-connections', String(CONN), '--rpc-timeout-ms', '5000',
  '--breaker-error-rate', '100', '--breaker-min-requests', '1000000'],
  { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  const ids = new Map();
  async function load(tag, n) {
    await pool(Math.ceil(n / 20), 8, async (b) => {
      const transfers = Array.from({ length: Math.min(20, n - b * 20) }, (_, k) => ({
        receiver_id: `user-${(b * 20 + k) % 400}.test.near`, amount: '4', memo: `${tag}-${b * 20 + k}` }));
      const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
      check(r.status === 202, `${tag} bulk ${b}: ${r.status}`);
      if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
    });
  }
  const url = `http://127.0.0.1:${sim.port}`;
  const limitOf = (m) => m.get(`nearft_rpc_inflight_limit{url="${url}"}`);
  check(limitOf(await metrics(d.port)) === CONN, 'AIMD limit starts at --rpc-connections');

  // 1. Rate limit: 5 requests/s, far below what 32 transactions in flight ask for even on a slow
  //    sanitizer build (the test must not depend on nearftd reaching a rate).
  await setFaults(sim.port, { rate_limit: 5 });
  await load('rl', N);
  let minLimit = CONN;
  await waitFor(async () => {
    const m = await metrics(d.port);
    minLimit = Math.min(minLimit, limitOf(m));
    return metricSum(m, 'nearft_rpc_rate_limited_total') > 0 && minLimit < CONN;
  }, 'AIMD limit lowered by 429s', 30000, 100);
  check(minLimit < CONN, `in-flight limit lowered to ${minLimit}`);
  const s1 = await audit(sim.port);
  await setFaults(sim.port, { rate_limit: 0 });
  await waitAllFinal(d.port, [...ids.keys()], 'rate limit', 120000);
  const m1 = await metrics(d.port);
  check(metricSum(m1, 'nearft_rpc_rate_limited_total') > 0, 'rate-limited answers counted');
  // Additive increase: with the limit lifted, answers raise it again.
  await load('rl2', 200);
  await waitFor(async () => limitOf(await metrics(d.port)) > minLimit, 'AIMD limit raised again', 30000, 100);

  // 2. Congestion: the receiver shard rejects with ShardCongested for a while.
  await setFaults(sim.port, { congestion: 0.95 });
  const before = new Set(ids.keys());
  await load('cg', 300);
  await waitFor(async () => metricSum(await metrics(d.port), 'nearft_rpc_answers_total{kind="SHARD_CONGESTED"') > 0,
                'ShardCongested answers', 20000, 100);
  const pendingWhileCongested = [...ids.keys()].filter((id) => !before.has(id));
  await setFaults(sim.port, { congestion: 0 });
  const st = await waitAllFinal(d.port, pendingWhileCongested, 'congestion', 60000);
  check([...st.values()].every((s) => s.status === 'executed'), 'congested transfers executed after the congestion');
  const all = await waitAllFinal(d.port, [...ids.keys()], 'all', 30000);
  check([...all.values()].every((s) => s.status === 'executed'), 'no transfer failed');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'ratelimit');
  console.log(`transfers=${ids.size} http_429=${s1.http_429 ?? '?'} min_limit=${minLimit}`);
  code = report('faults_ratelimit');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
