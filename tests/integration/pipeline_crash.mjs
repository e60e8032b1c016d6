// pipeline_crash: SIGKILL nearftd at random moments under load, restart it, repeat; at the end
// nearsim's audit must show every acknowledged transfer applied exactly once and no transfer
// (acknowledged or not) applied twice. Usage: node pipeline_crash.mjs NEARSIM NEARFTD [ROUNDS=5]
import { startSim, startDaemon, request, pool, waitFor, waitApplied, audit, appliedMemos, check, report,
         keepOrClean } from './lib/harness.mjs';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';

const [nearsim, nearftd, roundsArg] = process.argv.slice(2);
const ROUNDS = Number(roundsArg || 5);
const seed = Number(process.env.NF_CRASH_SEED || Date.now() % 1000000);
let rng = seed;
const rand = () => ((rng = (rng * 1103515245 + 12345) % 2147483648) / 2147483648);
console.log(`pipeline_crash: seed=${seed} rounds=${ROUNDS} (replay with NF_CRASH_SEED=${seed})`);

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '6', '--chunk-gas', '100P',
  '--chunk-tx-gas', '100P', '--wait-timeout-ms', '3000']);
const dataDir = join(sim.dir, 'data');
const log = join(sim.dir, 'nearftd.log');
// Small segments, no retention and frequent compaction: old segments are deleted while the
// service is killed and restarted, so the test also shows compaction never drops what a live
// transfer needs.
const flags = ['--inflight-per-key', '8', '--batch-linger-ms', '5', '--rpc-timeout-ms', '5000',
  '--wal-segment-bytes', '1048576', '--retention-hours', '0', '--compact-interval-ms', '300'];
const acked = new Set();
let sent = 0, code = 1;
try {
  for (let round = 0; round < ROUNDS; round++) {
    const d = await startDaemon(nearftd, sim, dataDir, flags, { logFile: log });
    let stop = false;
    // Load: bulk requests (mixed sizes) and single requests, unique memos.
    const load = pool(8, 8, async (w) => {
      for (let k = 0; !stop; k++) {
        const n = w < 4 ? 1 + Math.floor(rand() * 200) : 1;
        const transfers = Array.from({ length: n }, (_, i) => ({
          receiver_id: `user-${(w * 131 + k * 7 + i) % 1000}.test.near`, amount: String(1 + (i % 5)),
          memo: `crash-${round}-${w}-${k}-${i}` }));
        sent += n;
        try {
          const r = await request(d.port, 'POST', '/v1/transfers', n === 1 ? transfers[0] : { transfers }, { timeoutMs: 10000 });
          if (r.status === 202) transfers.forEach((t) => acked.add(t.memo));
        } catch { /* connection cut by the kill: not acknowledged */ }
      }
    });
    const delay = 300 + Math.floor(rand() * 1500);
    await new Promise((r) => setTimeout(r, delay)); // let the load run before the kill
    await d.kill();
    stop = true;
    await load;
    console.log(`round ${round}: killed after ${delay} ms; acknowledged so far ${acked.size} of ${sent} sent`);
  }
  // Final start: recovery finishes everything that was acknowledged.
  const d = await startDaemon(nearftd, sim, dataDir, flags, { logFile: log });
  await waitApplied(sim.port, acked, 'every acknowledged transfer applied');
  const memos = await appliedMemos(sim.port);
  let twice = 0;
  for (const [, n] of memos) if (n !== 1) twice++;
  let ackedOnce = 0;
  for (const m of acked) if (memos.get(m) === 1) ackedOnce++;
  check(acked.size > 0, 'some transfers were acknowledged');
  check(ackedOnce === acked.size, `every acknowledged transfer applied exactly once (${ackedOnce}/${acked.size})`);
  check(twice === 0, `no transfer applied more than once (${twice} memos applied != 1 times)`);
  const au = await audit(sim.port);
  check(au.duplicate_memo_count === 0 && au.supply_conserved === true, `audit: ${JSON.stringify(au).slice(0, 300)}`);
  console.log(`applied ${memos.size} distinct transfers (acknowledged ${acked.size}; the rest were durable but unacknowledged when killed)`);
  const segs = readdirSync(dataDir).filter((f) => f.startsWith('wal-'));
  await waitFor(async () => {
    const m = await request(d.port, 'GET', '/metrics');
    const x = /nearft_wal_segments_deleted_total (\d+)/.exec(m.text);
    return x && Number(x[1]) > 0;
  }, 'compaction deleted old segments', 30000, 300);
  const segsAfter = readdirSync(dataDir).filter((f) => f.startsWith('wal-'));
  console.log(`log segments: ${segs.length} at the end of the load, ${segsAfter.length} after compaction`);
  check(segsAfter.length < segs.length || segs.length <= 2, 'compaction shrank the log');
  check((await d.stop()) === 0, 'final nearftd exits 0 on SIGTERM');
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code === 0 ? report('pipeline_crash') : 1, ' (nearftd.log)'));
