// faults_power_cut: power cuts under load. nearftd runs with the LD_PRELOAD shim
// tests/faults/fail_io.c in power-cut mode: it records, per open log file, the size at the last
// successful fdatasync before the caller sees the sync. A cut is SIGKILL (every thread stops at one
// instant) followed by cutting each recorded file back to that size: what a disk holds after a
// power failure at that instant. 20 cycles of load -> power cut -> restart on the same data dir.
// Asserts: every transfer acknowledged with 202 in any cycle is executed and applied exactly once
// (nearsim's audit); a transfer whose request got no answer is applied at most once.
// Usage: node faults_power_cut.mjs NEARSIM NEARFTD FAIL_IO_SO [cycles]
import { readFileSync, truncateSync, statSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, startDaemon, request, check, report, keepOrClean, waitFor, waitCount } from './lib/harness.mjs';
import { waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';

const [nearsim, nearftd, shim, cyclesArg] = process.argv.slice(2);
const cycles = Number(cyclesArg || 20);
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const data = join(sim.dir, 'data');
const log = join(sim.dir, 'nearftd.log');
const cutFile = join(sim.dir, 'power-cut');
const flags = ['--batch-linger-ms', '5', '--wal-segment-bytes', '1048576'];
const accepted = new Map(); // id -> memo: acknowledged durable
const unanswered = [];
let n = 0, other = 0, cutBytes = 0;

// powerCut: cuts every log file the shim recorded back to its durable size (struct cut_rec in
// fail_io.c: 512 bytes per fd, an int64 1 + size, then a NUL-terminated path).
function powerCut() {
  const rec = readFileSync(cutFile);
  let files = 0;
  for (let off = 0; off + 512 <= rec.length; off += 512) {
    const durable = rec.readBigInt64LE(off);
    if (durable <= 0n) continue;
    const path = rec.subarray(off + 8, off + 512).toString('latin1').split('\0')[0];
    const size = Number(durable - 1n);
    const had = statSync(path).size;
    check(had >= size, `${path}: ${had} bytes on disk, ${size} recorded as synced`);
    truncateSync(path, size);
    cutBytes += had - size;
    files++;
  }
  rmSync(cutFile);
  return files;
}

function startCut() {
  process.env.LD_PRELOAD = shim;
  process.env.NF_FAIL_IO_MATCH = data;
  process.env.NF_POWER_CUT = cutFile;
  const p = startDaemon(nearftd, sim, data, flags, { logFile: log });
  delete process.env.LD_PRELOAD;
  delete process.env.NF_POWER_CUT;
  return p;
}

async function post(d, tag) {
  const memo = `${tag}-${n++}`;
  const bulk = n % 5 === 0; // every fifth request carries 10 transfers
  const body = bulk
    ? { transfers: Array.from({ length: 10 }, (_, k) => ({ receiver_id: `user-${k}.test.near`, amount: '2', memo: `${memo}.${k}` })) }
    : { receiver_id: `user-${n % 40}.test.near`, amount: '2', memo };
  let r;
  try {
    r = await request(d.port, 'POST', '/v1/transfers', body, { timeoutMs: 30000 });
  } catch {
    if (bulk) body.transfers.forEach((t) => unanswered.push(t.memo));
    else unanswered.push(memo);
    return;
  }
  if (r.status !== 202) {
    if (r.status !== 503) {
      other++;
      console.log(`unexpected answer ${r.status} ${JSON.stringify(r.body)}`);
    }
    return;
  }
  if (bulk) r.body.transfers.forEach((t, k) => accepted.set(t.id, body.transfers[k].memo));
  else accepted.set(r.body.id, memo);
}

let d = await startCut();
let code = 1;
try {
  for (let c = 0; c < cycles; c++) {
    let loading = true;
    const want = accepted.size + 150;
    const workers = Array.from({ length: 8 }, async () => { while (loading) await post(d, `cut${c}`); });
    await waitCount(() => accepted.size, want, `cycle ${c}: transfers accepted`, undefined, 20);
    const exited = new Promise((res) => d.proc.once('exit', (code, sig) => res({ code, sig })));
    d.proc.kill('SIGKILL'); // the power goes while requests are in flight
    const how = await exited;
    check(how.sig === 'SIGKILL', `cycle ${c}: nearftd ended by the power cut (exit ${how.code} ${how.sig})`);
    check(powerCut() > 0, `cycle ${c}: the shim recorded the open log file`);
    loading = false;
    await Promise.all(workers);
    d = await startCut();
  }
  const states = await waitAllFinal(d.port, [...accepted.keys()], 'after the last restart', 240000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every acknowledged transfer executed');
  check(other === 0, `only 202 or 503 answers: ${other} others`);
  const { applied } = await checkExactlyOnce(sim.port, [...accepted.values()], [], 'power cuts');
  const twice = unanswered.filter((m) => (applied.get(m) || 0) > 1).length;
  check(twice === 0, `unanswered transfers applied more than once: ${twice}`);
  console.log(`faults_power_cut: ${cycles} cycles, ${accepted.size} acknowledged, ${unanswered.length} unanswered, ${cutBytes} unsynced bytes cut`);
  code = report('faults_power_cut');
} finally {
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
