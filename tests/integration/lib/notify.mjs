// notify: the test side of the service manager's notify protocol, for tests that start nearftd
// with NOTIFY_SOCKET pointing at a socket they own (tests/nearftd/notify_sink.c).
import { spawn } from 'node:child_process';
import { stopProc } from './harness.mjs';

// startSink: notify_sink (the binary sinkBin) on path; messages[] gets one entry per datagram, in
// arrival order (its lines joined by ' | '); messages.bound once it receives.
export function startSink(sinkBin, path) {
  const proc = spawn(sinkBin, [path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const messages = [];
  const waiters = [];
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'bound') { messages.bound = true; continue; }
      messages.push(line);
      for (const w of waiters) w(line);
    }
  });
  return { proc, messages, onMessage: (fn) => waiters.push(fn),
    stop: () => stopProc(proc) };
}

// env: sets (or, for undefined, removes) process.env entries for the processes spawned next;
// returns the function that restores them.
export function env(extra) {
  const saved = {};
  for (const [k, v] of Object.entries(extra)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k]; else process.env[k] = v;
  }
  return () => { for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k]; else process.env[k] = v; } };
}

// has: whether one of msgs carries the line what.
export const has = (msgs, what) => msgs.some((m) => m.split(' | ').includes(what));
