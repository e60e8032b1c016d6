// faults_disk_full: the disk under the log fills up under load. nearftd's data dir is on a small
// tmpfs the test mounts (root only: anywhere else it exits 77, which ctest reports as skipped,
// saying why). A ballast file fills the tmpfs while clients keep posting. Asserts: requests that
// cannot be written are answered 503 "the durable log is full" with Retry-After; nearftd killed
// with SIGKILL while the disk is full restarts; once the ballast is removed it accepts again by
// itself; every transfer acknowledged with 202 is applied exactly once and no refused one is.
// Usage: node faults_disk_full.mjs NEARSIM NEARFTD
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, writeSync, closeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, startDaemon, request, check, report, keepOrClean, waitFor, waitCount } from './lib/harness.mjs';
import { waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';

const SKIP = 77;
const [nearsim, nearftd] = process.argv.slice(2);
if (process.getuid() !== 0) {
  console.log('faults_disk_full: SKIPPED: mounting a tmpfs for the data dir needs root');
  process.exit(SKIP);
}
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const mnt = join(sim.dir, 'fs');
mkdirSync(mnt);
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt], { stdio: 'pipe' });
} catch (e) {
  console.log(`faults_disk_full: SKIPPED: cannot mount a tmpfs here (${String(e.stderr || e.message).trim()})`);
  await sim.stop();
  keepOrClean(sim.dir, 0);
  process.exit(SKIP);
}
const data = join(mnt, 'data');
const ballast = join(mnt, 'ballast');
const flags = ['--batch-linger-ms', '5', '--wal-segment-bytes', '1048576'];
const log = join(sim.dir, 'nearftd.log');
let d = await startDaemon(nearftd, sim, data, flags, { logFile: log });
let code = 1;
const accepted = new Map(); // id -> memo
const refused = []; // answered 503: must never be applied
let unanswered = 0; // no answer at all: may or may not be durable, so not checked either way
let full503 = 0, other = 0, n = 0;
async function post(tag) {
  const memo = `${tag}-${n++}`;
  let r;
  try {
    r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: `user-${n % 50}.test.near`, amount: '3', memo });
  } catch {
    unanswered++;
    return;
  }
  if (r.status === 202) accepted.set(r.body.id, memo);
  else if (r.status === 503 && /durable log is full/.test(JSON.stringify(r.body)) && r.headers['retry-after'] !== undefined) {
    full503++;
    refused.push(memo);
  } else {
    other++;
    console.log(`unexpected answer ${r.status} ${JSON.stringify(r.body)}`);
  }
}
// fill: writes the ballast until the file system is full (ENOSPC ends it).
function fill() {
  const fd = openSync(ballast, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x55);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (e) {
    if (e.code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}
let loading = true;
async function load(tag) {
  while (loading) await Promise.all(Array.from({ length: 8 }, () => post(tag)));
}
try {
  const bg = load('before');
  await waitCount(() => accepted.size, 200, 'transfers accepted before the disk fills', undefined, 50);
  fill();
  await waitCount(() => full503, 20, '503 "the durable log is full" while the disk is full', undefined, 50);
  loading = false;
  await bg;
  // Killed while the disk is full, restarted on the full disk: it comes up and keeps refusing.
  await d.kill();
  d = await startDaemon(nearftd, sim, data, flags, { logFile: log });
  await post('restarted-full');
  check(full503 >= 21, `after a restart on the full disk requests are still refused with 503: ${full503}`);
  // Space comes back: nearftd accepts again by itself.
  rmSync(ballast);
  const before = accepted.size;
  loading = true;
  const bg2 = load('after');
  await waitCount(() => accepted.size, before + 200, 'transfers accepted again once space is back', undefined, 50);
  loading = false;
  await bg2;
  check(other === 0, `only 202 or 503 "the durable log is full" answers: ${other} others`);
  const states = await waitAllFinal(d.port, [...accepted.keys()], 'after the disk recovered', 180000);
  check([...states.values()].every((s) => s.status === 'executed'), 'every acknowledged transfer executed');
  check(unanswered === 0, `every request was answered: ${unanswered} were not`);
  await checkExactlyOnce(sim.port, [...accepted.values()], refused, 'disk full');
  code = report('faults_disk_full');
} finally {
  loading = false;
  await d.stop();
  await sim.stop();
  try { execFileSync('umount', [mnt], { stdio: 'pipe' }); } catch {}
  keepOrClean(sim.dir, code, 'faults_disk_full');
}
process.exit(code);
