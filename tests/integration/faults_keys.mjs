// faults_keys: one of nearftd's access keys is deleted on chain mid-run by another key of the same
// account (a DeleteKey transaction signed with near-api-js), so nearftd's transactions on it are
// rejected with AccessKeyNotFound (row "InvalidSignature / AccessKeyNotFound /
// permission" of docs/ERRORS.md). Asserts: that key is quarantined (named with its reason in
// /health and nearft_key_quarantined in /metrics) while the service stays green on the other keys,
// and every transfer is executed exactly once.
// Usage: node faults_keys.mjs NEARSIM NEARFTD NEAR_API_JS_DIR
import { startSim, startDaemon, request, pool, rpc, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { metrics, health, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [nearsim, nearftd, napiDir] = process.argv.slice(2);
const napi = await import(pathToFileURL(join(napiDir, 'lib', 'index.js')).href);
const { KeyPair, KeyPairSigner, actions, baseDecode, createTransaction, encodeTransaction } = napi;

const SIGNER = 'distributor.test.near';
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '1500']);
const credDir = join(sim.creds, SIGNER);
const creds = readdirSync(credDir).map((f) => JSON.parse(readFileSync(join(credDir, f), 'utf8')))
  .sort((a, b) => a.public_key.localeCompare(b.public_key));
const used = creds.slice(0, 3).map((c) => c.public_key);
const victim = used[2];
const outsider = creds[3];
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--fsync', 'off',
  '--public-keys', used.join(','), '--wait-timeout-ms', '5000', '--batch-linger-ms', '5',
  '--batch-max-actions', '10', '--inflight-per-key', '4', '--rpc-timeout-ms', '5000'],
  { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  const ids = new Map();
  async function load(tag, n) {
    await pool(Math.ceil(n / 20), 6, async (b) => {
      const transfers = Array.from({ length: 20 }, (_, k) => ({
        receiver_id: `user-${(b * 20 + k) % 300}.test.near`, amount: '8', memo: `${tag}-${b}-${k}` }));
      const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
      check(r.status === 202, `${tag} ${b}: ${r.status}`);
      if (r.status === 202) r.body.transfers.forEach((t, k) => ids.set(t.id, transfers[k].memo));
    });
  }
  await load('before', 300);
  await waitAllFinal(d.port, [...ids.keys()], 'before', 30000);
  // Delete the victim key with the outsider key (not used by nearftd).
  const kp = KeyPair.fromString(outsider.private_key);
  const ak = await rpc(sim.port, 'query', { request_type: 'view_access_key', finality: 'optimistic',
    account_id: SIGNER, public_key: outsider.public_key });
  const blk = await rpc(sim.port, 'block', { finality: 'final' });
  const tx = createTransaction(SIGNER, kp.getPublicKey(), SIGNER, BigInt(ak.body.result.nonce) + 1n,
    [actions.deleteKey(KeyPair.fromString(creds[2].private_key).getPublicKey())],
    baseDecode(blk.body.result.header.hash));
  const { signedTransaction } = await new KeyPairSigner(kp).signTransaction(tx);
  const sent = await rpc(sim.port, 'send_tx', { signed_tx_base64:
    Buffer.from(encodeTransaction(signedTransaction)).toString('base64'), wait_until: 'EXECUTED_OPTIMISTIC' });
  check(sent.body && sent.body.result && JSON.stringify(sent.body.result.status).includes('Success'),
        `DeleteKey executed: ${sent.text.slice(0, 200)}`);
  await load('after', 600);
  await waitFor(async () => (await health(d.port)).body.keys.quarantined.length > 0, 'victim key quarantined', 20000, 100);
  const h = await health(d.port);
  check(h.status === 200, `service stays green on the other keys (${h.status})`);
  check(h.body.keys.quarantined.length === 1 && h.body.keys.quarantined[0].public_key === victim,
        `quarantined: ${JSON.stringify(h.body.keys.quarantined)}`);
  check(/ACCESS_KEY_NOT_FOUND/i.test(h.body.keys.quarantined[0].reason), 'quarantine reason names AccessKeyNotFound');
  check(h.body.keys.usable === 2, `usable keys ${h.body.keys.usable}`);
  const m = await metrics(d.port);
  check(m.get(`nearft_key_quarantined{key="${victim}"}`) === 1, 'nearft_key_quarantined for the victim');
  const st = await waitAllFinal(d.port, [...ids.keys()], 'after', 60000);
  check([...st.values()].every((s) => s.status === 'executed'), 'every transfer executed on the remaining keys');
  await checkExactlyOnce(sim.port, [...ids.values()], [], 'keys');
  code = report('faults_keys');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
