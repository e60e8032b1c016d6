// metrics_promtool: Prometheus' own linter on a live /metrics. nearftd runs on nearsim, lands a
// few hundred transfers (so histograms, per-endpoint and per-key series all carry data), then
// `promtool check metrics` reads the scrape and must report nothing. Also checks that the standard
// process_* families and the renamed latency histogram are there with sane values, and that every
// family has HELP and TYPE. Exits 77 (ctest SKIP_RETURN_CODE) when promtool is not installed.
// Usage: node metrics_promtool.mjs NEARSIM NEARFTD
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, startDaemon, request, pool, waitFor, waitCount, check, report,
         keepOrClean } from './lib/harness.mjs';
import { metrics, metricSum } from './faults_lib.mjs';

const [nearsim, nearftd] = process.argv.slice(2);
const PROMTOOL = process.env.PROMTOOL || 'promtool';
if (spawnSync(PROMTOOL, ['--version']).error) {
  console.log('metrics_promtool: SKIP: promtool not found (Debian package prometheus; ' +
              'scripts/install-deps.sh installs it)');
  process.exit(77);
}

const N = 300;
const run = `m${Date.now() % 100000}`;
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--batch-linger-ms', '10'],
                            { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  await pool(N, 32, async (i) => {
    const r = await request(d.port, 'POST', '/v1/transfers',
      { receiver_id: `user-${i % 50}.test.near`, amount: '1', memo: `${run}-${i}` });
    check(r.status === 202, `transfer ${i}: ${r.status} ${r.text}`);
  });
  await waitCount(async () => metricSum(await metrics(d.port), 'nearft_transfers_total', 'status="executed"'),
    N, `${N} transfers executed`);

  const r = await request(d.port, 'GET', '/metrics');
  check(r.status === 200, `/metrics: ${r.status}`);
  const file = join(sim.dir, 'metrics.txt');
  writeFileSync(file, r.text);
  const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: r.text, encoding: 'utf8' });
  const findings = `${lint.stdout}${lint.stderr}`.trim();
  check(lint.status === 0 && findings === '',
        `promtool check metrics (exit ${lint.status}) on ${file}:\n${findings}`);

  // The version: nearftd --version and nearsim --version print it, nearft_build_info carries it.
  const ver = spawnSync(nearftd, ['--version'], { encoding: 'utf8' });
  const vm = (ver.stdout || '').match(/^nearftd (\d+\.\d+\.\d+)\n$/);
  check(ver.status === 0 && vm, `nearftd --version: ${ver.status} ${ver.stdout}`);
  check(vm && r.text.includes(`nearft_build_info{version="${vm[1]}"} 1\n`), 'nearft_build_info carries the version');
  const sv = spawnSync(nearsim, ['--version'], { encoding: 'utf8' });
  check(sv.status === 0 && vm && sv.stdout === `nearsim ${vm[1]}\n`, `nearsim --version: ${sv.stdout}`);

  // Every family named in a sample line has HELP and TYPE (promtool names the missing HELP; this
  // also catches a sample printed under no TYPE, which promtool takes as untyped).
  const help = new Set(), type = new Map();
  for (const line of r.text.split('\n')) {
    let m = line.match(/^# HELP (\S+) \S/);
    if (m) help.add(m[1]);
    m = line.match(/^# TYPE (\S+) (\S+)$/);
    if (m) type.set(m[1], m[2]);
  }
  const families = new Set();
  for (const line of r.text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const name = line.match(/^[a-zA-Z_:][a-zA-Z0-9_:]*/)[0];
    const base = name.replace(/_(bucket|sum|count)$/, '');
    families.add(type.get(base) === 'histogram' ? base : name);
  }
  for (const f of families) {
    check(help.has(f), `family ${f} has # HELP`);
    check(type.has(f), `family ${f} has # TYPE`);
  }
  check(families.size >= 40, `at least 40 families (${families.size})`);

  const m = await metrics(d.port);
  for (const k of ['process_cpu_seconds_total', 'process_resident_memory_bytes',
                   'process_virtual_memory_bytes', 'process_open_fds', 'process_max_fds',
                   'process_start_time_seconds'])
    check(m.get(k) > 0, `${k} = ${m.get(k)}`);
  const now = Date.now() / 1000;
  const start = m.get('process_start_time_seconds');
  check(start > now - 3600 && start <= now + 5, `process_start_time_seconds ${start} is recent`);
  check(m.get('process_open_fds') <= m.get('process_max_fds'), 'open fds within the limit');
  check(m.get('process_resident_memory_bytes') <= m.get('process_virtual_memory_bytes'),
        'RSS within the virtual size');
  check(m.get('nearft_wal_filesystem_free_bytes') > 0, 'WAL filesystem free bytes');
  check(m.get('nearft_wal_filesystem_size_bytes') >= m.get('nearft_wal_filesystem_free_bytes'),
        'WAL filesystem size >= free');
  const lat = m.get('nearft_submit_latency_seconds_count');
  check(lat > 0 && m.get('nearft_submit_latency_seconds_bucket{le="+Inf"}') === lat,
        `submit latency histogram count ${lat} equals its +Inf bucket`);
  check(m.get('nearft_submit_latency_seconds_sum') >= 0, 'submit latency sum');
  const done = m.get('nearft_transfer_duration_seconds_count{status="executed"}');
  check(done >= N && m.get('nearft_transfer_duration_seconds_bucket{status="executed",le="+Inf"}') === done,
        `transfer duration histogram counts the ${N} executed transfers (${done})`);
  check(m.get('nearft_transfer_duration_seconds_sum{status="executed"}') > 0, 'transfer duration sum');
  check(m.get('nearft_keys') === 4 && m.get('nearft_keys_quarantined') === 0, 'key pool gauges');
  check(m.get('nearft_wal_failed') === 0, 'log not failed');
  check(!r.text.includes('_ms'), 'no millisecond-suffixed names');
  code = report('metrics_promtool');
} catch (e) {
  console.error(e);
} finally {
  await d.stop();
  await sim.stop();
  process.exit(keepOrClean(sim.dir, code));
}
