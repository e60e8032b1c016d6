// deploy_socket: nearftd started by socket activation, with systemd-socket-activate (Debian
// package systemd) standing in for a .socket unit: it listens on a port, and on the first
// connection execs nearftd with that listening socket as fd 3 (LISTEN_FDS=1).
//  1. The first requests are made before nearftd runs: they wait in the socket's backlog and are
//     answered 202 once it has replayed its log; nearftd serves the passed socket (its ready line
//     names that port, not --listen's), and every transfer lands exactly once (nearsim's audit).
//  2. SIGTERM stops it with status 0.
//  3. Two passed sockets are refused at start (exit 2, saying nearftd serves one).
// Exits 77 (skipped) when systemd-socket-activate is missing.
// Usage: node deploy_socket.mjs NEARSIM NEARFTD
import { spawn, execFileSync } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSim, request, waitFor, stopProc, check, report, keepOrClean } from './lib/harness.mjs';
import { freePorts } from './lib/cluster.mjs';
import { waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';

const [nearsim, nearftd] = process.argv.slice(2);
let activate = null;
try {
  activate = execFileSync('sh', ['-c', 'command -v systemd-socket-activate'], { stdio: 'pipe' }).toString().trim();
} catch {}
if (!activate) {
  console.log('SKIP deploy_socket: systemd-socket-activate not found (Debian package systemd)');
  process.exit(77);
}

const run = `s${Date.now() % 100000}`;
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const log = join(sim.dir, 'nearftd.log');
const daemonArgs = (dir) => ['--rpc-url', `http://127.0.0.1:${sim.port}`, '--signer', 'distributor.test.near',
  '--credentials', sim.creds, '--contract', 'ft.test.near', '--listen', '127.0.0.1:0', '--data-dir', dir];

// activated: systemd-socket-activate listening on ports, running nearftd on the first connection;
// resolves once it listens. Its output (and nearftd's) goes to log; stdout is kept for the ready line.
function activated(ports, dir) {
  const out = openSync(log, 'a');
  // systemd-socket-activate passes only a few variables on: name the sanitizers' settings.
  const keep = Object.keys(process.env).filter((k) => /^(TSAN|ASAN|UBSAN|LSAN)_OPTIONS$/.test(k));
  const args = [...ports.flatMap((p) => ['-l', `127.0.0.1:${p}`]), ...keep.flatMap((k) => ['-E', k]),
    '--', nearftd, ...daemonArgs(dir)];
  const proc = spawn(activate, args, { stdio: ['ignore', 'pipe', out] });
  let stdout = '';
  proc.stdout.on('data', (d) => { stdout += d.toString(); });
  return { proc, stdout: () => stdout };
}
const listening = (port) => () => readFileSync(log, 'utf8').includes(`Listening on 127.0.0.1:${port} as`);

let code = 1;
const procs = [];
try {
  // 1. Requests before nearftd runs, answered once it is ready.
  const [port] = await freePorts(1);
  const a = activated([port], join(sim.dir, 'data'));
  procs.push(a.proc);
  await waitFor(listening(port), 'systemd-socket-activate listening');
  const memos = Array.from({ length: 20 }, (_, i) => `${run}-${i}`);
  const answers = await Promise.all(memos.map((memo, i) => request(port, 'POST', '/v1/transfers',
    { receiver_id: `user-${i % 50}.test.near`, amount: '3', memo }, { fresh: true })));
  check(answers.every((r) => r.status === 202), `the first requests, made before nearftd ran, got 202: ${answers.map((r) => r.status)}`);
  await waitFor(() => /nearftd ready port=\d+/.test(a.stdout()), 'the ready line');
  const ready = Number(a.stdout().match(/nearftd ready port=(\d+)/)[1]);
  check(ready === port, `nearftd serves the passed socket's port ${port} (ready line: ${ready})`);
  const said = readFileSync(log, 'utf8').match(/serving on the socket the service manager passed instead of --listen" listen=127\.0\.0\.1:(\d+) flag_listen=127\.0\.0\.1:0/);
  check(said && Number(said[1]) === port, `the log says where it serves: ${said && said[0]}`);
  const h = await request(port, 'GET', '/health');
  check(h.status === 200, `GET /health on the passed socket: ${h.status}`);
  await waitAllFinal(port, answers.map((r) => r.body.id), 'transfers through the passed socket');
  await checkExactlyOnce(sim.port, memos, [], 'socket activation');

  // 2. SIGTERM: a clean stop.
  check((await stopProc(a.proc)) === 0, 'SIGTERM stops nearftd with status 0');

  // 3. Two sockets: refused at start.
  const [p1, p2] = await freePorts(2);
  const b = activated([p1, p2], join(sim.dir, 'data-two'));
  procs.push(b.proc);
  await waitFor(listening(p2), 'systemd-socket-activate listening on two ports');
  await request(p1, 'GET', '/health', undefined, { fresh: true, timeoutMs: 60000 }).catch(() => null);
  await waitFor(() => b.proc.exitCode !== null, 'nearftd given two sockets exits');
  check(b.proc.exitCode === 2 && /socket activation: the service manager passed 2 sockets; nearftd serves one/
    .test(readFileSync(log, 'utf8')), `two sockets refused at start (exit ${b.proc.exitCode})`);
  code = report('deploy_socket');
} catch (e) {
  console.error(`FAIL deploy_socket: ${e.stack || e.message}`);
  code = 1;
} finally {
  for (const p of procs) await stopProc(p, 'SIGKILL');
  await sim.stop();
  keepOrClean(sim.dir, code, 'deploy_socket');
}
process.exit(code);
