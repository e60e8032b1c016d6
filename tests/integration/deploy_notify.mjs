// deploy_notify: nearftd's side of the service manager's notify protocol (systemd Type=notify)
// without systemd: NOTIFY_SOCKET points at a unix datagram socket this test owns (notify_sink).
//  1. a start that fails (no RPC answers, a setting out of range) reports STATUS=failed and never
//     READY=1;
//  2. with WATCHDOG_USEC: READY=1 arrives once the port answers, WATCHDOG=1 pings follow, transfers
//     land, SIGTERM brings STOPPING=1 and exit 0;
//  3. a restart on the same log without WATCHDOG_USEC: at READY=1 the transfers of run 2 are already
//     known (the log was replayed first), and no WATCHDOG=1 is sent.
// Usage: node deploy_notify.mjs NEARSIM NEARFTD NOTIFY_SINK
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startSim, startDaemon, request, waitFor, stopProc, check, report, keepOrClean,
         START_LIMIT_MS } from './lib/harness.mjs';
import { waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { startSink as sinkOn, env, has } from './lib/notify.mjs';

const [nearsim, nearftd, sinkBin] = process.argv.slice(2);
const run = `n${Date.now() % 100000}`;
const startSink = (path) => sinkOn(sinkBin, path);

const count = (msgs, what) => msgs.filter((m) => m.split(' | ').includes(what)).length;

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const dataDir = join(sim.dir, 'data');
const logFile = join(sim.dir, 'nearftd.log');
let code = 1;
const sinks = [];
try {
  // 1. A start that cannot reach the RPC: STATUS says why, READY never comes.
  {
    const sink = startSink(join(sim.dir, 'notify0.sock'));
    sinks.push(sink);
    await waitFor(() => sink.messages.bound, 'notify_sink bound');
    const restore = env({ NOTIFY_SOCKET: join(sim.dir, 'notify0.sock') });
    const args = ['--rpc-url', 'http://127.0.0.1:1', '--signer', 'distributor.test.near',
      '--credentials', sim.creds, '--contract', 'ft.test.near', '--listen', '127.0.0.1:0',
      '--data-dir', join(sim.dir, 'data0')];
    const p = spawn(nearftd, args, { stdio: ['ignore', 'ignore', 'ignore'] });
    restore();
    const exitCode = await new Promise((r) => p.on('exit', r));
    await waitFor(() => sink.messages.some((m) => m.startsWith('STATUS=failed')),
      'STATUS=failed from a start that cannot reach the RPC');
    check(exitCode !== 0, `a start without RPC exited ${exitCode}`);
    check(!has(sink.messages, 'READY=1'), `a failed start sent READY=1: ${sink.messages.join(' / ')}`);
    check(sink.messages.some((m) => /STATUS=failed: cannot reach any --rpc-url/.test(m)),
      `failed start STATUS names the cause: ${sink.messages.join(' / ')}`);
    // A configuration error (exit 2) says so too.
    const restore2 = env({ NOTIFY_SOCKET: join(sim.dir, 'notify0.sock') });
    const p2 = spawn(nearftd, [...args, '--batch-max-actions', '101'], { stdio: 'ignore' });
    restore2();
    const exit2 = await new Promise((r) => p2.on('exit', r));
    check(exit2 === 2, `a configuration error exits 2 (${exit2})`);
    await waitFor(() => sink.messages.some((m) => /STATUS=failed: --batch-max-actions/.test(m)),
      'STATUS=failed naming the bad setting');
    check(!has(sink.messages, 'READY=1'), 'no READY=1 after a configuration error');
    await sink.stop();
  }

  // 2. Watchdog run: READY after the port answers, pings, transfers, STOPPING on SIGTERM.
  const ids = [];
  const memos = [];
  {
    const sock = join(sim.dir, 'notify1.sock');
    const sink = startSink(sock);
    sinks.push(sink);
    await waitFor(() => sink.messages.bound, 'notify_sink bound');
    let readyProbe = null;
    sink.onMessage((line) => {
      if (!line.split(' | ').includes('READY=1') || readyProbe) return;
      const m = line.match(/STATUS=ready: serving \S+ \(port (\d+)\)/);
      // Probed the moment READY=1 arrives: the listener must already answer.
      readyProbe = m ? request(Number(m[1]), 'GET', '/health').then((r) => r.status, (e) => String(e))
                     : Promise.resolve(`READY without a port in its STATUS: ${line}`);
    });
    const restore = env({ NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' });
    const d = await startDaemon(nearftd, sim, dataDir, ['--batch-linger-ms', '10'], { logFile });
    restore();
    await waitFor(() => readyProbe, 'READY=1', START_LIMIT_MS);
    const st = await readyProbe;
    check(st === 200 || st === 503, `GET /health right at READY=1 answered ${st}`);
    const firstStatus = sink.messages.findIndex((m) => m.startsWith('STATUS='));
    const readyAt = sink.messages.findIndex((m) => m.split(' | ').includes('READY=1'));
    check(firstStatus >= 0 && firstStatus < readyAt, `start-up STATUS lines precede READY=1: ${sink.messages.slice(0, 5).join(' / ')}`);
    check(sink.messages.some((m) => m.startsWith('STATUS=replaying the durable log')),
      'STATUS while replaying the log');
    await waitFor(() => count(sink.messages, 'WATCHDOG=1') >= 3, 'three WATCHDOG=1 pings');
    for (let i = 0; i < 20; i++) {
      const memo = `${run}-${i}`;
      const r = await request(d.port, 'POST', '/v1/transfers',
        { receiver_id: `user-${i}.test.near`, amount: String(1 + i), memo });
      check(r.status === 202, `transfer ${i}: ${r.status} ${r.text}`);
      if (r.status === 202) { ids.push(r.body.id); memos.push(memo); }
    }
    await waitAllFinal(d.port, ids, 'run 2');
    check(!has(sink.messages, 'STOPPING=1'), 'no STOPPING=1 before the signal');
    const exitCode = await d.stop();
    check(exitCode === 0, `nearftd exit ${exitCode} on SIGTERM`);
    await waitFor(() => has(sink.messages, 'STOPPING=1'), 'STOPPING=1 after SIGTERM');
    const stopAt = sink.messages.findIndex((m) => m.split(' | ').includes('STOPPING=1'));
    check(stopAt > readyAt, 'STOPPING=1 after READY=1');
    check(!sink.messages.slice(stopAt + 1).includes('WATCHDOG=1'), 'no ping after STOPPING=1');
    await sink.stop();
  }

  // 3. Restart on the same log, no watchdog asked for: replayed before READY=1, no pings.
  {
    const sock = join(sim.dir, 'notify2.sock');
    const sink = startSink(sock);
    sinks.push(sink);
    await waitFor(() => sink.messages.bound, 'notify_sink bound');
    let readyProbe = null;
    sink.onMessage((line) => {
      if (!line.split(' | ').includes('READY=1') || readyProbe) return;
      const m = line.match(/\(port (\d+)\)/);
      readyProbe = m ? Promise.all(ids.map((id) => request(Number(m[1]), 'GET', `/v1/transfers/${id}`)
        .then((r) => r.body && r.body.status, (e) => String(e)))) : Promise.resolve(['no port']);
    });
    const restore = env({ NOTIFY_SOCKET: sock, WATCHDOG_USEC: undefined });
    const d = await startDaemon(nearftd, sim, dataDir, [], { logFile });
    restore();
    await waitFor(() => readyProbe, 'READY=1 after restart', START_LIMIT_MS);
    const states = await readyProbe;
    const known = states.filter((s) => s === 'executed').length;
    check(known === ids.length, `at READY=1 ${known} of ${ids.length} earlier transfers known as executed: ${[...new Set(states)].join(',')}`);
    check(!has(sink.messages, 'WATCHDOG=1'), 'no WATCHDOG=1 without WATCHDOG_USEC');
    const exitCode = await d.stop();
    check(exitCode === 0, `restart: exit ${exitCode}`);
    await waitFor(() => has(sink.messages, 'STOPPING=1'), 'STOPPING=1 after the restart');
    await sink.stop();
  }
  await checkExactlyOnce(sim.port, memos, [], 'notify');
  code = report('deploy_notify');
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  for (const s of sinks) await s.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
