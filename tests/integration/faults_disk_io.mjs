// faults_disk_io: the log's writes fail (writev answers ENOSPC, injected by the LD_PRELOAD shim
// tests/faults/fail_io.c while a control file exists) and recover. Asserts: a request whose
// ACCEPT could not be written is answered 503 with Retry-After and is never applied; a repeat
// with the same Idempotency-Key that arrives in the same group commit (a 1 s gathering window
// puts it there) is refused with it, never acknowledged as a duplicate of a transfer that was
// not written; once writes succeed again the key is a new transfer, executed exactly once, and
// the service carries on by itself. No answer comes before the write it reports on: a request
// whose wait timeout passes while its ACCEPT is being written waits for the write. Then a transaction is declared dead (InvalidChain, unknown by
// hash) while its OUTCOME record cannot be written: its transfer goes into no other transaction
// while that record is not durable (the record is written again), and after a kill -9 in that
// state and a restart it is paid exactly once.
// Usage: node faults_disk_io.mjs NEARSIM NEARFTD FAIL_IO_SO
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, startDaemon, request, check, report, keepOrClean, waitFor, appliedMemos } from './lib/harness.mjs';
import { waitAllFinal, checkExactlyOnce, setFaults, metrics, metricSum } from './faults_lib.mjs';

const [nearsim, nearftd, shim] = process.argv.slice(2);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const ctl = join(sim.dir, 'fail-io');
const data = join(sim.dir, 'data');
process.env.LD_PRELOAD = shim;
process.env.NF_FAIL_IO_FILE = ctl;
process.env.NF_FAIL_IO_MATCH = data;
// A 1 s gathering window holds every ACCEPT well past the 200 ms wait timeout: an answer must
// still wait for the write (a plain POST was answered 202 {"status":"pending"} before it).
const flags = ['--wal-group-commit-us', '1000000', '--batch-linger-ms', '5', '--wait-timeout-ms', '200'];
let d = await startDaemon(nearftd, sim, data, flags, { logFile: join(sim.dir, 'nearftd.log') });
delete process.env.LD_PRELOAD;
let code = 1;
const post = (memo, key) => request(d.port, 'POST', '/v1/transfers',
  { receiver_id: 'user-1.test.near', amount: '7', memo }, { headers: key ? { 'Idempotency-Key': key } : {} });
try {
  const ok1 = await post('disk-ok-1');
  check(ok1.status === 202, `a transfer before the fault is accepted: ${ok1.status}`);
  // Durable means past "pending"; the batch stage may already hold it when the answer is built.
  const durable = ['queued', 'batched', 'signed', 'submitted', 'executed'];
  check(durable.includes(ok1.body.status), `it is answered once durable, not before: ${JSON.stringify(ok1.body)}`);

  // The disk refuses writes: the first request and its repeat share one group commit.
  writeFileSync(ctl, 'writev ENOSPC');
  const [first, repeat] = await Promise.all([post('disk-key-a', 'key-a'), post('disk-key-a', 'key-a')]);
  for (const [what, r] of [['first', first], ['repeat', repeat]]) {
    check(r.status === 503, `${what} request while the log cannot be written: 503, got ${r.status} ${JSON.stringify(r.body)}`);
    check(r.headers['retry-after'] !== undefined, `${what}: 503 carries Retry-After`);
  }
  const other = await post('disk-refused-1');
  check(other.status === 503, `another request while the log cannot be written: ${other.status}`);

  // Writes succeed again: the same key is a new transfer, nothing refused is ever applied.
  rmSync(ctl);
  const again = await post('disk-key-a-2', 'key-a');
  check(again.status === 202 && again.body.duplicate !== true,
        `the key after the fault is a new transfer: ${again.status} ${JSON.stringify(again.body)}`);
  const ok2 = await post('disk-ok-2');
  check(ok2.status === 202, `the service carries on: ${ok2.status}`);
  const ids = [ok1, again, ok2].filter((r) => r.status === 202).map((r) => r.body.id);
  const states = await waitAllFinal(d.port, ids, 'after the disk recovered', 120000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every accepted transfer executed');
  await checkExactlyOnce(sim.port, ['disk-ok-1', 'disk-key-a-2', 'disk-ok-2'],
                         ['disk-key-a', 'disk-refused-1'], 'disk faults');

  // A dead transaction whose OUTCOME cannot be written (only writes holding its message fail).
  const sent = async () => metricSum(await metrics(d.port), 'nearft_transactions_total{result="sent"');
  const sent0 = await sent();
  writeFileSync(ctl, 'writev EIO INVALID_CHAIN');
  await setFaults(sim.port, { reject_next: { kind: 'InvalidChain', count: 1 } });
  const dead = await post('disk-dead-1');
  check(dead.status === 202, `the transfer is accepted: ${dead.status}`);
  await waitFor(async () => metricSum(await metrics(d.port), 'nearft_outcome_rewrites_total') >= 3,
                'the dead transaction\'s outcome records written again', 120000, 50);
  check(await sent() === sent0 + 1, `no other transaction for the transfer while the outcome is not durable: sent ${await sent() - sent0}`);
  check(!(await appliedMemos(sim.port)).has('disk-dead-1'), 'the dead transaction did not land');
  // Power to the process is cut in that state; it restarts on a healthy disk.
  await d.kill();
  rmSync(ctl);
  process.env.LD_PRELOAD = shim; // the shim stays in (it fails nothing while ctl is absent)
  d = await startDaemon(nearftd, sim, data, flags, { logFile: join(sim.dir, 'nearftd.log') });
  delete process.env.LD_PRELOAD;
  const after = await waitAllFinal(d.port, [dead.body.id], 'after the restart', 120000);
  check([...after.values()].every((st) => st.status === 'executed'), 'the transfer is executed after the restart');
  await checkExactlyOnce(sim.port, ['disk-ok-1', 'disk-key-a-2', 'disk-ok-2', 'disk-dead-1'],
                         ['disk-key-a', 'disk-refused-1'], 'after the dead outcome');

  // Signed transactions cannot be written (only writes holding an ft_transfer call fail): the
  // accepted transfers wait, signing pauses instead of taking nonce after nonce for records that
  // fail, nothing is broadcast, and all of it lands once writes succeed again.
  const sent1 = await sent();
  writeFileSync(ctl, 'writev ENOSPC ft_transfer');
  const held = await Promise.all([1, 2, 3, 4, 5].map((i) => post(`disk-unsigned-${i}`)));
  check(held.every((r) => r.status === 202), `transfers are accepted while signed records fail: ${held.map((r) => r.status)}`);
  await waitFor(async () => (await metrics(d.port)).get('nearft_signing_paused') === 1,
                'signing paused after a signed record could not be written', 120000, 20);
  check(await sent() === sent1, `nothing broadcast while signed records are not durable: sent ${await sent() - sent1}`);
  rmSync(ctl);
  const unsigned = await waitAllFinal(d.port, held.map((r) => r.body.id), 'after signed records are durable again', 120000);
  check([...unsigned.values()].every((st) => st.status === 'executed'), 'the held transfers are executed');
  check((await metrics(d.port)).get('nearft_signing_paused') === 0, 'signing goes on');
  await checkExactlyOnce(sim.port, ['disk-ok-1', 'disk-key-a-2', 'disk-ok-2', 'disk-dead-1',
                                    'disk-unsigned-1', 'disk-unsigned-2', 'disk-unsigned-3',
                                    'disk-unsigned-4', 'disk-unsigned-5'],
                         ['disk-key-a', 'disk-refused-1'], 'after signed records failed');
  code = report('faults_disk_io');
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code, 'faults_disk_io');
}
process.exit(code);
