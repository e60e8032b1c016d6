// faults_receivers: receivers that are registered, existing-but-unregistered (new-N) and
// non-existent mixed into one load, plus transfers the contract rejects (rows "receiver
// not registered", "receiver account does not exist" and "ActionError index i" of docs/ERRORS.md).
// Asserts: one storage_deposit per unregistered receiver (de-duplicated while in flight), every
// transfer to an existing receiver executed exactly once, every transfer to a missing account
// failed with a reason and never sent, an over-balance ft_transfer fails alone with the contract's
// message while the rest of its transaction is re-batched and lands, no transfer stays pending;
// then with --no-auto-register transfers to unregistered receivers fail with a clear reason before
// any transaction is built. Usage: node faults_receivers.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, pool, rpc, audit, check, report, keepOrClean } from './lib/harness.mjs';
import { setFaults, metrics, metricSum, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4', '--wait-timeout-ms', '2000']);
const common = ['--fsync', 'off', '--wait-timeout-ms', '5000', '--batch-linger-ms', '20',
  '--inflight-per-key', '4', '--rpc-timeout-ms', '5000'];
let d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), common,
  { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;

async function storageBalance(account) {
  const args = Buffer.from(JSON.stringify({ account_id: account })).toString('base64');
  const r = await rpc(sim.port, 'query', { request_type: 'call_function', finality: 'optimistic',
    account_id: 'ft.test.near', method_name: 'storage_balance_of', args_base64: args });
  return JSON.parse(Buffer.from(r.body.result.result).toString('utf8'));
}

try {
  // Some lookups fail too (5 % 503s): the batch stage asks again, nothing is decided on a failure.
  await setFaults(sim.port, { error_rate: 0.05 });
  const a0 = await audit(sim.port);
  const N = 900, PER = 30;
  const NEW = 20, GHOST = 10;
  const kind = (i) => ['reg', 'new', 'ghost'][i % 3];
  const recv = (i) => kind(i) === 'reg' ? `user-${i % 50}.test.near`
    : kind(i) === 'new' ? `new-${i % NEW}.test.near` : `ghost-${i % GHOST}.test.near`;
  const memo = (i) => `rcv-${i}`;
  const idOf = new Map(); // i -> id
  await pool(N / PER, 6, async (b) => {
    const transfers = [];
    for (let k = 0; k < PER; k++) {
      const i = b * PER + k;
      transfers.push({ receiver_id: recv(i), amount: '7', memo: memo(i) });
    }
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    check(r.status === 202, `bulk ${b}: ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 202) r.body.transfers.forEach((t, k) => idOf.set(b * PER + k, t.id));
  });
  // ActionError: one transfer the contract refuses (more than the whole supply... minus one, so it
  // parses as a valid amount) in the middle of one request's transfers.
  const big = { receiver_id: 'user-1.test.near', amount: '999999999999999999999999999999999999',
    memo: 'rcv-too-big' };
  const mates = Array.from({ length: 9 }, (_, k) => ({ receiver_id: `user-${60 + k}.test.near`,
    amount: '5', memo: `rcv-mate-${k}` }));
  const r2 = await request(d.port, 'POST', '/v1/transfers?wait=executed',
    { transfers: [...mates.slice(0, 4), big, ...mates.slice(4)] }, { timeoutMs: 20000 });
  check(r2.status === 200 || r2.status === 202 || r2.status === 207,
        `mixed request with a failing action: ${r2.status} ${r2.text.slice(0, 300)}`);
  const bigId = r2.body.transfers[4].id;
  const mateIds = r2.body.transfers.filter((_, k) => k !== 4).map((t) => t.id);

  const states = await waitAllFinal(d.port, [...idOf.values(), bigId, ...mateIds], 'receivers', 90000);
  await setFaults(sim.port, { reset: true }); // the test's own views below must not fail
  const expected = [];
  const absent = [];
  let wrongOutcome = 0;
  for (const [i, id] of idOf) {
    const s = states.get(id);
    if (kind(i) === 'ghost') {
      absent.push(memo(i));
      if (s.status !== 'failed' || !/does not exist/.test(s.error || '')) wrongOutcome++;
    } else {
      expected.push(memo(i));
      if (s.status !== 'executed') wrongOutcome++;
    }
  }
  check(wrongOutcome === 0, `${wrongOutcome} transfers ended other than expected`);
  const bs = states.get(bigId);
  check(bs.status === 'failed' && /balance|Smart contract panicked|FunctionCallError/i.test(bs.error || ''),
        `over-balance transfer fails with the contract's message: ${JSON.stringify(bs)}`);
  check(bs.tx_hash, 'the failed action names its transaction');
  check(mateIds.every((id) => states.get(id).status === 'executed'),
        'the other transfers of the failed transaction were re-batched and executed');
  expected.push(...mates.map((m) => m.memo));
  absent.push('rcv-too-big');
  const { audit: a1 } = await checkExactlyOnce(sim.port, expected, absent, 'receivers');
  // One storage_deposit per unregistered receiver: every applied action that is not an
  // ft_transfer is a storage_deposit.
  const deposits = (a1.actions_applied - a1.transfers_applied) - (a0.actions_applied - a0.transfers_applied);
  check(deposits === NEW, `storage_deposit actions applied: ${deposits}, want ${NEW}`);
  for (let k = 0; k < NEW; k++)
    check((await storageBalance(`new-${k}.test.near`)) !== null, `new-${k} registered`);
  const m = await metrics(d.port);
  check(metricSum(m, 'nearft_transactions_total{result="action_error"') >= 1, 'action error counted');
  await d.stop();

  // --no-auto-register: unregistered receivers fail before any transaction is built.
  d = await startDaemon(nearftd, sim, join(sim.dir, 'data2'), [...common, '--no-auto-register'],
    { logFile: join(sim.dir, 'nearftd2.log') });
  const a2 = await audit(sim.port);
  const transfers = [];
  for (let k = 0; k < 10; k++) transfers.push({ receiver_id: `new-${50 + k}.test.near`, amount: '1', memo: `noreg-${k}` });
  for (let k = 0; k < 10; k++) transfers.push({ receiver_id: `user-${200 + k}.test.near`, amount: '1', memo: `reg-${k}` });
  const r3 = await request(d.port, 'POST', '/v1/transfers', { transfers });
  check(r3.status === 202, `no-auto-register request: ${r3.status}`);
  const ids = r3.body.transfers.map((t) => t.id);
  const st3 = await waitAllFinal(d.port, ids, 'no-auto-register', 30000);
  let bad3 = 0;
  ids.forEach((id, k) => {
    const s = st3.get(id);
    if (k < 10 ? !(s.status === 'failed' && /not registered/i.test(s.error || '') && !s.tx_hash)
               : s.status !== 'executed') bad3++;
  });
  check(bad3 === 0, `${bad3} transfers wrong with --no-auto-register`);
  const a3 = await audit(sim.port);
  check(a3.actions_applied - a3.transfers_applied === a2.actions_applied - a2.transfers_applied,
        'no storage_deposit sent with --no-auto-register');
  await checkExactlyOnce(sim.port, transfers.slice(10).map((t) => t.memo),
    transfers.slice(0, 10).map((t) => t.memo), 'no-auto-register');
  code = report('faults_receivers');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
