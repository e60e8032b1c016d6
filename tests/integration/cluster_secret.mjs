// cluster_secret: the cluster's log authenticated with --cluster-secret-file (HMAC-SHA-256 of each
// message over the stream, its sequence, its segment and its payload). One nats-server (JetStream),
// nearsim and nearftd:
//   0. --cluster without a secret is refused at start unless --cluster-allow-unauthenticated;
//   1. bad secret files are refused at start (too short; readable by others);
//   2. with the secret, transfers are acknowledged and applied exactly once;
//   3. an instance without the secret (--cluster-allow-unauthenticated), or with another one,
//      refuses to start on that stream, saying why, before it serves;
//   4. a copy of one of the log's own messages (headers and MAC included) appended at another
//      sequence by a plain NATS client, as a process with publish rights but no secret could,
//      makes the next start refuse that message, naming its sequence: nothing of it is replayed
//      and nothing is paid twice (nearsim's audit).
//   5. a standby with another secret does not relay to the holder (the lease's address does not
//      verify);
//   6. a stream that exists with a max age (made by the plain client) is refused at start: the
//      server would remove acknowledged records by itself;
//   7. a clean stop does not delete a lease value another instance wrote over its own.
// The NATS client here speaks the text protocol over a socket (CONNECT, SUB, PUB, HPUB): enough to
// read a message through the JetStream API, publish a copy and make a stream.
// Usage: node cluster_secret.mjs NEARSIM NEARFTD NATS_SERVER HAS_LIBNATS(0|1)
// Exits 77 (skipped) when nats-server is missing or nearftd was built without libnats.
import { startSim, startDaemon, launchDaemon, request, waitFor, waitApplied, stopProc, check, report, keepOrClean,
         refusedAtStart, START_LIMIT_MS } from './lib/harness.mjs';
import { freePorts, requireNats, startNats } from './lib/cluster.mjs';
import { checkExactlyOnce } from './faults_lib.mjs';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';

const [nearsim, nearftd, natsBin, hasNats] = process.argv.slice(2);
requireNats('cluster_secret', natsBin, hasNats);


// natsRequest: one request/reply over the NATS text protocol: publishes payload (with the header
// block hdrs when given) on subject with a reply inbox and resolves the reply's payload (a string).
function natsRequest(port, subject, payload, hdrs = null) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let sent = false;
    const t = setTimeout(() => { sock.destroy(); reject(new Error(`no NATS reply on ${subject}`)); }, 30000);
    const done = (f, v) => { clearTimeout(t); sock.destroy(); f(v); };
    sock.on('error', (e) => done(reject, e));
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) return;
        const line = buf.subarray(0, eol).toString();
        if (line.startsWith('INFO ') && !sent) {
          sent = true;
          const body = Buffer.from(payload);
          let pub;
          if (hdrs) {
            const h = Buffer.from(hdrs);
            pub = Buffer.concat([Buffer.from(`HPUB ${subject} _INBOX.t ${h.length} ${h.length + body.length}\r\n`), h, body, Buffer.from('\r\n')]);
          } else {
            pub = Buffer.concat([Buffer.from(`PUB ${subject} _INBOX.t ${body.length}\r\n`), body, Buffer.from('\r\n')]);
          }
          sock.write(Buffer.concat([Buffer.from('CONNECT {"verbose":false,"pedantic":false,"headers":true,"protocol":1}\r\nSUB _INBOX.t 1\r\n'), pub]));
          buf = buf.subarray(eol + 2);
          continue;
        }
        const tok = line.split(/\s+/).filter((x) => x !== ''); // the server may double a space
        if (tok[0] === 'MSG' || tok[0] === 'HMSG') {
          const total = Number(tok[tok.length - 1]);
          if (buf.length < eol + 2 + total + 2) return;
          const msg = buf.subarray(eol + 2, eol + 2 + total);
          const hlen = tok[0] === 'HMSG' ? Number(tok[tok.length - 2]) : 0;
          return done(resolve, msg.subarray(hlen).toString());
        }
        if (line.startsWith('-ERR')) return done(reject, new Error(line));
        buf = buf.subarray(eol + 2);
      }
    });
  });
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const log = join(sim.dir, 'nearftd.log');
let nats = null;
let code = 1;

// refused: nearftd must exit before it is ready, its log saying why (re).
const refused = (dir, flags, re, what) => refusedAtStart(nearftd, sim, log, dir, flags, re, what);

try {
  const [port, mon] = await freePorts(2);
  const store = join(sim.dir, 'nats');
  mkdirSync(store);
  nats = await startNats(natsBin, ['-a', '127.0.0.1', '-p', String(port), '-m', String(mon), '-js', '-sd', store],
    mon, join(sim.dir, 'nats.log'));
  const STREAM = 'NFSEC';
  const base = ['--cluster', `nats://127.0.0.1:${port}`, '--cluster-stream', STREAM,
    '--cluster-replicas', '1', '--batch-linger-ms', '5'];
  const secret = (name, bytes, mode = 0o600) => {
    const f = join(sim.dir, name);
    writeFileSync(f, bytes);
    chmodSync(f, mode);
    return f;
  };
  const good = secret('secret', randomBytes(32));

  // 0. No secret and no --cluster-allow-unauthenticated.
  await refused('bare', base, /--cluster without --cluster-secret-file: whoever may publish/,
    'cluster mode without a secret');

  // 1. Bad secret files.
  await refused('short', [...base, '--cluster-secret-file', secret('short', randomBytes(16))],
    /cluster-secret-file .*must hold 32 to 4096 bytes/, 'a secret of 16 bytes');
  await refused('open', [...base, '--cluster-secret-file', secret('open', randomBytes(32), 0o644)],
    /cluster-secret-file:.*(group|others)/, 'a secret file others can read');

  // 2. With the secret: transfers land exactly once.
  let d = await startDaemon(nearftd, sim, join(sim.dir, 'a'), [...base, '--cluster-secret-file', good], { logFile: log });
  const memos = [];
  for (let i = 0; i < 20; i++) {
    const t = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `sec-${i}` };
    const r = await request(d.port, 'POST', '/v1/transfers', t);
    check(r.status === 202, `transfer ${i} accepted on an authenticated log (${r.status})`);
    if (r.status === 202) memos.push(t.memo);
  }
  await waitApplied(sim.port, memos, 'the transfers applied');
  check((await d.stop()) === 0, 'the instance stops with status 0');
  // Restarted with the secret it replays its own log.
  d = await startDaemon(nearftd, sim, join(sim.dir, 'a2'), [...base, '--cluster-secret-file', good], { logFile: log });
  check(d.port > 0, 'an instance with the secret replays the authenticated log and serves');
  check((await d.stop()) === 0, 'and stops with status 0');

  // 3. Without the secret, or with another one.
  await refused('none', [...base, '--cluster-allow-unauthenticated'],
    /the stream's messages are authenticated: this instance needs/,
    'an instance without the secret');
  await refused('other', [...base, '--cluster-secret-file', secret('other', randomBytes(32))],
    /message not authenticated by the cluster secret/, 'an instance with another secret');

  // 4. A copy of the log's last message, appended by a client without the secret.
  const info = JSON.parse(await natsRequest(port, `$JS.API.STREAM.INFO.${STREAM}`, ''));
  const last = info.state.last_seq;
  const got = JSON.parse(await natsRequest(port, `$JS.API.STREAM.MSG.GET.${STREAM}`, JSON.stringify({ seq: last })));
  const hdrs = Buffer.from(got.message.hdrs, 'base64').toString();
  check(/\r\nNf-Mac: [0-9a-f]{64}\r\n/.test(hdrs), `the log's messages carry their MAC (${hdrs.split('\r\n').filter((l) => l.startsWith('Nf-')).join(', ')})`);
  // Keep nearftd's own headers (segment, MAC); drop the message id, which the server would take
  // for a duplicate of the original.
  const kept = hdrs.split('\r\n').filter((l) => l.startsWith('Nf-'));
  const copyHdrs = `NATS/1.0\r\n${kept.join('\r\n')}\r\n\r\n`;
  const ack = JSON.parse(await natsRequest(port, `${STREAM}.log`, Buffer.from(got.message.data, 'base64'), copyHdrs));
  check(ack.seq === last + 1, `the copy was stored at sequence ${ack.seq} (after ${last})`);
  await refused('copied', [...base, '--cluster-secret-file', good],
    new RegExp(`stream_seq=${last + 1} .*message not authenticated by the cluster secret`),
    'the authenticated instance, on a log with a copied message');
  await checkExactlyOnce(sim.port, memos, [], 'authenticated log');

  // 5. The lease's address is authenticated too: a standby with another secret does not relay to
  // the holder (503, no holder it can trust), and says why. On a new, empty stream, so that the
  // standby has no message to refuse yet.
  const [pa, pb] = await freePorts(2);
  const s2 = [...base.slice(0, 3), 'NFSEC2', ...base.slice(4)];
  const a = await startDaemon(nearftd, sim, join(sim.dir, 'lease-a'),
    [...s2, '--cluster-secret-file', good, '--listen', `127.0.0.1:${pa}`], { logFile: log });
  const b = launchDaemon(nearftd, sim, join(sim.dir, 'lease-b'),
    [...s2, '--cluster-secret-file', join(sim.dir, 'other'), '--listen', `127.0.0.1:${pb}`],
    { logFile: log, readyMs: 30 * 60000 });
  b.ready.catch(() => {});
  await waitFor(() => readFileSync(log, 'utf8').includes("the lease's address is not authenticated by the cluster secret"),
    'the standby with another secret refusing the lease\'s address', 60000, 100);
  const r = await request(pb, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1', memo: 'sec-relay' }, { fresh: true });
  check(r.status === 503 && r.body && /no instance of the cluster holds the log/.test(r.body.reason),
    `a standby does not relay to an address the secret does not vouch for (${r.status} ${r.text.slice(0, 100)})`);
  b.proc.kill('SIGTERM');
  await waitFor(async () => b.proc.exitCode !== null || b.proc.signalCode !== null, 'the standby to stop', 60000, 50);
  check((await a.stop()) === 0, 'the holder stops with status 0');

  // 6. A stream that exists with a limit under which the server would remove acknowledged
  // records by itself (here a max age) is refused at start, naming the limit.
  const made = JSON.parse(await natsRequest(port, '$JS.API.STREAM.CREATE.NFLIM', JSON.stringify({
    name: 'NFLIM', subjects: ['NFLIM.log'], retention: 'limits', max_age: 3600e9, storage: 'file', num_replicas: 1 })));
  check(!made.error, `a stream with a max age made by a plain client (${JSON.stringify(made.error || {})})`);
  await refused('limited', [...base.slice(0, 3), 'NFLIM', ...base.slice(4), '--cluster-secret-file', good],
    /the stream exists with a max age/, 'a stream with a max age');

  // 7. A clean stop deletes the lease only at its own revision: when another value was written
  // over it (an instance that took the lease while this one, partitioned, did not notice), the
  // stop leaves that value alone. A long lease, so that no renewal notices the new value first.
  const h = await startDaemon(nearftd, sim, join(sim.dir, 'lease-rev'),
    [...base.slice(0, 3), 'NFLEASE', ...base.slice(4), '--cluster-secret-file', good, '--cluster-lease-ms', '60000'],
    { logFile: log });
  const leaseNow = async () => {
    const m = JSON.parse(await natsRequest(port, '$JS.API.STREAM.MSG.GET.KV_NFLEASE_lease',
      JSON.stringify({ last_by_subj: '$KV.NFLEASE_lease.log' })));
    return m.message ? Buffer.from(m.message.data || '', 'base64').toString() : '';
  };
  // Its advertised address is in the lease first (its last write before the next renewal).
  await waitFor(async () => (await leaseNow()).includes(`:${h.port}`), 'the holder advertising its address in the lease', 60000, 100);
  const over = 'another-instance 127.0.0.1:1';
  const put = JSON.parse(await natsRequest(port, '$KV.NFLEASE_lease.log', over));
  check(put.seq > 0, `a value written over the lease (${JSON.stringify(put)})`);
  check((await h.stop()) === 0, 'the instance stops with status 0');
  const leaseValue = await leaseNow();
  check(leaseValue === over, `the stop did not delete the other instance's lease (last value "${leaseValue}")`);
  check(readFileSync(log, 'utf8').includes('the log lease was not released'), 'it says the lease was not released');
  code = report('cluster_secret');
} catch (e) {
  console.error(`cluster_secret: FAIL: ${e.stack || e}`);
  code = 1;
} finally {
  if (nats) await stopProc(nats, 'SIGKILL');
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
