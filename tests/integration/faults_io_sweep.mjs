// faults_io_sweep: one failing call on the log, at each position of a sweep. nearftd runs with the
// LD_PRELOAD shim tests/faults/fail_io.c and NF_FAIL_IO_AT="CALL ERRNO N": the Nth fdatasync or
// writev on the log files fails (EIO or ENOSPC), wherever it falls (an ACCEPT, SIGNED, OUTCOME or
// JOB_FINAL record). Requests go one at a time (so the Nth call comes within N requests) until the
// failure is logged, a few more follow, then nearftd is killed with SIGKILL (the page cache keeps
// everything written) and the next position starts on the same log. At the end a clean nearftd
// finishes the work. Asserts: every transfer answered 202 is executed and applied exactly once; a
// transfer answered 503 is never applied, even when its frames reached the file before the failed
// fdatasync (they are cut back before the answer); one with no answer at most once.
// Usage: node faults_io_sweep.mjs NEARSIM NEARFTD FAIL_IO_SO
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, startDaemon, request, check, report, keepOrClean } from './lib/harness.mjs';
import { waitAllFinal, checkExactlyOnce, health } from './faults_lib.mjs';

const [nearsim, nearftd, shim] = process.argv.slice(2);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const data = join(sim.dir, 'data');
const log = join(sim.dir, 'nearftd.log');
const flags = ['--batch-linger-ms', '2'];
const plan = [
  ...[1, 2, 3, 5, 8, 13].map((n) => ['fdatasync', 'EIO', n]),
  ...[1, 2, 4, 7, 11].map((n) => ['writev', 'ENOSPC', n]),
  ...[3, 6].map((n) => ['writev', 'EIO', n]),
];
const accepted = new Map(); // id -> memo
const refused = [];
const unanswered = [];
let n = 0, other = 0;

const failures = () => !existsSync(log) ? 0 : (readFileSync(log, 'utf8').match(/msg="(fdatasync failed|write failed)/g) || []).length;

async function post(d, tag) {
  const memo = `${tag}-${n++}`;
  const bulk = n % 4 === 0; // every fourth request carries 5 transfers
  const body = bulk
    ? { transfers: Array.from({ length: 5 }, (_, k) => ({ receiver_id: `user-${k}.test.near`, amount: '3', memo: `${memo}.${k}` })) }
    : { receiver_id: `user-${n % 20}.test.near`, amount: '3', memo };
  const memos = bulk ? body.transfers.map((t) => t.memo) : [memo];
  let r;
  try {
    r = await request(d.port, 'POST', '/v1/transfers', body, { timeoutMs: 30000 });
  } catch {
    unanswered.push(...memos);
    return;
  }
  if (r.status === 202) {
    if (bulk) r.body.transfers.forEach((t, k) => accepted.set(t.id, memos[k]));
    else accepted.set(r.body.id, memo);
  } else if (r.status === 503) {
    check(r.headers['retry-after'] !== undefined, `503 carries Retry-After: ${JSON.stringify(r.body)}`);
    refused.push(...memos);
  } else {
    other++;
    console.log(`unexpected answer ${r.status} ${JSON.stringify(r.body)}`);
  }
}

let d = null;
let code = 1;
try {
  for (const [call, err, at] of plan) {
    const tag = `${call}-${err}-${at}`;
    const before = failures(); // the call may fail during start-up (recovered transactions' records)
    process.env.LD_PRELOAD = shim;
    process.env.NF_FAIL_IO_MATCH = data;
    process.env.NF_FAIL_IO_AT = `${call} ${err} ${at}`;
    d = await startDaemon(nearftd, sim, data, flags, { logFile: log });
    delete process.env.LD_PRELOAD;
    delete process.env.NF_FAIL_IO_AT;
    let sent = 0;
    while (failures() === before && sent < at + 30) {
      await post(d, tag);
      sent++;
    }
    check(failures() > before, `${tag}: the failing call happened within ${sent} requests`);
    for (let k = 0; k < 3; k++) await post(d, tag);
    if (call === 'fdatasync') {
      const h = (await health(d.port)).body;
      check(h.status === 'degraded' && h.reasons.some((r) => r.includes('fdatasync of the durable log failed')),
        `${tag}: /health names the failed log: ${JSON.stringify(h.reasons)}`);
    }
    await d.kill();
  }
  d = await startDaemon(nearftd, sim, data, flags, { logFile: log });
  const states = await waitAllFinal(d.port, [...accepted.keys()], 'after the sweep', 240000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every acknowledged transfer executed');
  check(refused.length > 0, `some requests were refused: ${refused.length}`);
  check(other === 0, `only 202 or 503 answers: ${other} others`);
  const { applied } = await checkExactlyOnce(sim.port, [...accepted.values()], refused, 'io sweep');
  const twice = unanswered.filter((m) => (applied.get(m) || 0) > 1).length;
  check(twice === 0, `unanswered transfers applied more than once: ${twice}`);
  console.log(`faults_io_sweep: ${plan.length} positions, ${accepted.size} acknowledged, ${refused.length} refused, ${unanswered.length} unanswered`);
  code = report('faults_io_sweep');
} finally {
  if (d) await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
