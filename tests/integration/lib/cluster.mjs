// cluster: what the cluster-mode tests (cluster_*.mjs) share: the skip when nats-server or a
// libnats build is missing, free ports, a nats-server waited for through its monitoring port, and
// the daemon's refusal check (refusedAtStart) is in harness.mjs.
import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { request, waitFor, START_LIMIT_MS } from './harness.mjs';

// requireNats: exits 77 (ctest's skip) with one line naming what is missing.
export function requireNats(name, natsBin, hasNats) {
  if (!natsBin || !existsSync(natsBin)) {
    console.log(`${name}: SKIP: nats-server is not installed (scripts/install-deps.sh installs it)`);
    process.exit(77);
  }
  if (hasNats !== '1') {
    console.log(`${name}: SKIP: nearftd was built without libnats (libnats-dev): no cluster mode`);
    process.exit(77);
  }
}

// freePorts: n distinct free ports, all held open until every one is known (a port closed at once
// could be handed out again by the next listen(0)).
export async function freePorts(n) {
  const servers = [];
  for (let i = 0; i < n; i++) {
    servers.push(await new Promise((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => resolve(s));
    }));
  }
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

// startNats: nats-server with args (its output appended to logFile), resolved once its monitoring
// port mon answers /healthz with JetStream enabled. The caller stops the process it returns.
export async function startNats(natsBin, args, mon, logFile) {
  const out = openSync(logFile, 'a');
  const proc = spawn(natsBin, args, { stdio: ['ignore', out, out] });
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`nats-server exited (see ${logFile})`);
    try { return (await request(mon, 'GET', '/healthz?js-enabled-only=true')).status === 200; } catch { return false; }
  }, 'nats-server to start', START_LIMIT_MS, 100);
  return proc;
}

