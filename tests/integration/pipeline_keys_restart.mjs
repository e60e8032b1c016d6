// pipeline_keys_restart: the key pool changes between runs while a signed transaction is still
// unresolved in the log. Blocks stall, so transactions signed by key B stay unresolved; nearftd is
// killed with SIGKILL. Restarted with only key A, it refuses to start and says the log holds
// transactions of keys that are not configured (it cannot account for their nonces). Restarted
// with both keys (B's index is now another than the one in the log), the recovered transactions
// count against B, not against the key at B's old index, and once blocks resume every transfer is
// applied exactly once (nearsim's audit).
// Usage: node pipeline_keys_restart.mjs NEARSIM NEARFTD
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, startDaemon, request, check, report, keepOrClean, waitFor } from './lib/harness.mjs';
import { waitAllFinal, checkExactlyOnce, setFaults, metrics, metricSum } from './faults_lib.mjs';

const [nearsim, nearftd] = process.argv.slice(2);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const data = join(sim.dir, 'data');
const log = join(sim.dir, 'nearftd.log');
const flags = ['--batch-linger-ms', '5'];
const inflight = (m) => new Map([...m].filter(([k]) => k.startsWith('nearft_key_inflight{'))
  .map(([k, v]) => [k.match(/key="([^"]+)"/)[1], v]));
let d = null;
let code = 1;
try {
  // The pool's order with every key (a run on a data dir of its own).
  d = await startDaemon(nearftd, sim, join(sim.dir, 'probe'), flags, { logFile: log });
  const keys = [...inflight(await metrics(d.port)).keys()];
  await d.stop();
  check(keys.length === 2, `two keys in the pool: ${keys}`);
  const [keyA, keyB] = keys;

  // Run 1: key B alone (index 0 there). Blocks stall: its transactions stay unresolved.
  d = await startDaemon(nearftd, sim, data, [...flags, '--public-keys', keyB], { logFile: log });
  await setFaults(sim.port, { stall_ms: 3600000 });
  const memos = [1, 2, 3, 4, 5].map((i) => `keys-restart-${i}`);
  const acks = await Promise.all(memos.map((memo) =>
    request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '4', memo })));
  check(acks.every((r) => r.status === 202), `accepted: ${acks.map((r) => r.status)}`);
  await waitFor(async () => metricSum(await metrics(d.port), 'nearft_transactions_total{result="sent"') >= 1,
                'a transaction signed and sent', 120000, 20);
  await d.kill();

  // Run 2: key A alone: the log's unresolved transactions belong to a key it does not have.
  const refused = spawn(nearftd, ['--rpc-url', `http://127.0.0.1:${sim.port}`, '--signer', 'distributor.test.near',
    '--credentials', sim.creds, '--contract', 'ft.test.near', '--listen', '127.0.0.1:0',
    '--data-dir', data, ...flags, '--public-keys', keyA], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  refused.stderr.on('data', (b) => { err += b; });
  // It either exits or comes up (then it is stopped, and the check below fails).
  const exit = await new Promise((resolve) => {
    refused.on('exit', (c) => resolve(c));
    refused.stdout.on('data', (b) => { if (/nearftd ready/.test(String(b))) refused.kill('SIGKILL'); });
  });
  check(exit !== 0, `nearftd without the signing key refuses to start: exit ${exit}`);
  check(/signed by keys that are not configured/.test(err), `it says why: ${err.split('\n').filter(Boolean).slice(-2).join(' | ')}`);
  check(err.includes(keyB), 'it names the missing key');

  // Run 3: both keys; B's index differs from the one in the log.
  d = await startDaemon(nearftd, sim, data, flags, { logFile: log });
  const m = inflight(await metrics(d.port));
  check(m.get(keyB) >= 1, `the recovered transactions count against the key that signed them: ${JSON.stringify([...m])}`);
  check(m.get(keyA) === 0, `and not against the key at its old index: ${JSON.stringify([...m])}`);
  await setFaults(sim.port, { stall_ms: 0 });
  const states = await waitAllFinal(d.port, acks.map((r) => r.body.id), 'after blocks resume', 120000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every transfer executed');
  await checkExactlyOnce(sim.port, memos, [], 'keys changed across a restart');
  code = report('pipeline_keys_restart');
} finally {
  if (d) await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code, 'pipeline_keys_restart');
}
process.exit(code);
