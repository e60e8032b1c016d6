// faults_tokens: the signer's token balance runs low mid-run, then is topped up (docs/ERRORS.md row
// "FT balance too low"). While the balance cannot cover a waiting transfer, nearftd pauses signing,
// /health is red with the reason and new requests get 503 + Retry-After; after the top-up it
// resumes on its own and every accepted transfer lands exactly once (none fails).
// Usage: node faults_tokens.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, rpc, check, report, waitFor, keepOrClean } from './lib/harness.mjs';
import { setFaults, health, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2', '--wait-timeout-ms', '2000']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--batch-linger-ms', '5', '--wait-timeout-ms', '3000'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;

async function ftBalance(account) {
  const args = Buffer.from(JSON.stringify({ account_id: account })).toString('base64');
  const r = await rpc(sim.port, 'query', { request_type: 'call_function', finality: 'optimistic',
    account_id: 'ft.test.near', method_name: 'ft_balance_of', args_base64: args });
  return BigInt(JSON.parse(Buffer.from(r.body.result.result).toString('utf8')));
}

try {
  const bal = await ftBalance('distributor.test.near');
  // Leave the signer 1000 tokens: the 600-token transfers below need more than that in total.
  await setFaults(sim.port, { move_tokens: { to: 'user-999.test.near', amount: String(bal - 1000n) } });
  const ids = new Map();
  for (let i = 0; i < 4; i++) {
    const memo = `tok-${i}`;
    const r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: `user-${i}.test.near`, amount: '600', memo });
    check(r.status === 202, `transfer ${i} accepted: ${r.status} ${r.text}`);
    if (r.status === 202) ids.set(r.body.id, memo);
  }
  const red = await waitFor(async () => {
    const h = await health(d.port);
    return h.status === 503 && JSON.stringify(h.body).includes('token balance') ? h : null;
  }, 'health red for the token balance', 30000, 200);
  check(red.body.status === 'degraded', `/health degraded: ${JSON.stringify(red.body)}`);
  const busy = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-7.test.near', amount: '1', memo: 'tok-refused' });
  check(busy.status === 503 && busy.headers['retry-after'] !== undefined, `new request refused with 503 + Retry-After while paused: ${busy.status}`);
  check(/token balance/.test(busy.text), `503 body names the reason: ${busy.text}`);
  const pending = [];
  for (const id of ids.keys()) {
    const s = (await request(d.port, 'GET', `/v1/transfers/${id}`)).body;
    if (s.status !== 'executed') pending.push(s.status);
  }
  check(pending.length > 0 && !pending.includes('failed'), `transfers wait instead of failing: ${pending}`);
  // Top up: the tokens come back, the service resumes by itself.
  await setFaults(sim.port, { move_tokens: { from: 'user-999.test.near', to: 'distributor.test.near', amount: String(bal - 1000n) } });
  const states = await waitAllFinal(d.port, [...ids.keys()], 'after the top-up', 60000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every transfer executed after the top-up');
  await waitFor(async () => (await health(d.port)).status === 200, 'health green again', 20000, 200);
  await checkExactlyOnce(sim.port, [...ids.values()], ['tok-refused'], 'tokens');
  code = 0;
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('faults_tokens') : 1));
