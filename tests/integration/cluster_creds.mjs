// cluster_creds: cluster mode with NATS user credentials (--cluster-creds FILE, a .creds file: a
// user JWT and its NKey seed) against a real nats-server in operator (decentralized JWT) mode: an
// operator, a system account and one application account with JetStream enabled by its JWT limits,
// preloaded into a memory resolver. Keys and JWTs are made fresh by @nats-io/nkeys and @nats-io/jwt
// (pinned in natsjwt/package-lock.json). Checks:
//   1. the creds of a valid user of the account: nearftd serves, and nearsim's audit shows its
//      transfers applied exactly once;
//   2. no credentials, 3. a user JWT signed by an account key the server does not know, and an
//      expired user JWT: nearftd refuses to start, logging that it cannot connect to NATS with
//      libnats's reason (an authorization violation);
//   4. users the server admits but whose permissions deny publishing. nats-server drops a denied
//      publish and reports it with a -ERR that leaves the connection open; nearftd counts these
//      reports by subject. Denied the JetStream API ($JS.API.>): nearftd refuses to start at once,
//      saying the user may not use the JetStream API. Denied only the stream's subject
//      (<stream>.log): it starts (stream and lease bucket are reachable); a transfer is answered
//      503 (the log message was denied, so it was not stored), /health is degraded naming the
//      permission, and a stop is clean (status 0: no outcome is unknown); nothing lands.
// Usage: node cluster_creds.mjs NEARSIM NEARFTD NATS_SERVER HAS_LIBNATS(0|1)
// Exits 77 (skipped) without nats-server, a libnats build or natsjwt/node_modules.
import { startSim, startDaemon, request, waitFor, waitApplied, stopProc, check, report, keepOrClean,
         refusedAtStart, START_LIMIT_MS } from './lib/harness.mjs';
import { freePorts, requireNats, startNats } from './lib/cluster.mjs';
import { checkExactlyOnce } from './faults_lib.mjs';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [nearsim, nearftd, natsBin, hasNats] = process.argv.slice(2);
const jwtDir = join(dirname(fileURLToPath(import.meta.url)), 'natsjwt');
requireNats('cluster_creds', natsBin, hasNats);
if (!existsSync(join(jwtDir, 'node_modules', '@nats-io', 'jwt'))) {
  console.log('cluster_creds: SKIP: tests/integration/natsjwt/node_modules is missing ' +
              '(scripts/install-deps.sh installs it)');
  process.exit(77);
}
const req = createRequire(join(jwtDir, 'package.json'));
const nk = req('@nats-io/nkeys');
const jwt = req('@nats-io/jwt');


// Account limits: no limit on anything, JetStream included (JetStream is off for an account whose
// JWT has no JetStream limits).
const UNLIMITED = {
  subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1,
  mem_storage: -1, disk_storage: -1, streams: -1, consumer: -1,
};

// writeCreds: a .creds file (user JWT and NKey seed), mode 0600.
function writeCreds(file, token, ukp) {
  const seed = new TextDecoder().decode(ukp.getSeed());
  writeFileSync(file, `-----BEGIN NATS USER JWT-----
${token}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${seed}
------END USER NKEY SEED------

*************************************************************
`, { mode: 0o600 });
  return file;
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const log = join(sim.dir, 'nearftd.log');
const natsLog = join(sim.dir, 'nats.log');
let nats = null;
let code = 1;

// size, since: a log file's length now, and the text it gained after the offset `before`.
const size = (f) => (existsSync(f) ? readFileSync(f, 'utf8').length : 0);
const since = (f, before) => (existsSync(f) ? readFileSync(f, 'utf8').slice(before) : '');

// refused: nearftd with these flags must exit before it is ready, and log `want`.
const refused = (dir, flags, what, want = /cannot connect to NATS/) =>
  refusedAtStart(nearftd, sim, log, dir, flags, want, what);

try {
  // Keys and JWTs: operator, system account, the application account, an account the server does
  // not know, and users of them.
  const okp = nk.createOperator();
  const sys = nk.createAccount();
  const acct = nk.createAccount();
  const stranger = nk.createAccount();
  const operatorJwt = await jwt.encodeOperator('nearft-test', okp,
    { system_account: sys.getPublicKey() });
  const sysJwt = await jwt.encodeAccount('SYS', sys, { limits: { ...UNLIMITED, mem_storage: 0,
    disk_storage: 0, streams: 0, consumer: 0 } }, { signer: okp });
  const acctJwt = await jwt.encodeAccount('NEARFT', acct, { limits: UNLIMITED }, { signer: okp });
  const keys = join(sim.dir, 'keys');
  mkdirSync(keys, { mode: 0o700 });
  const user = async (name, issuer, perms = {}, opts = {}) => {
    const ukp = nk.createUser();
    return writeCreds(join(keys, `${name}.creds`), await jwt.encodeUser(name, ukp, issuer, perms, opts), ukp);
  };
  const good = await user('payout', acct);
  const foreign = await user('foreign', stranger);
  const expired = await user('expired', acct, {}, { exp: Math.floor(Date.now() / 1000) - 3600 });
  const noApi = await user('no-js-api', acct, { pub: { deny: ['$JS.API.>'] } });
  const noLog = await user('no-log', acct, { pub: { deny: ['NFDENY.log'] } });

  const [port, mon] = await freePorts(2);
  const store = join(sim.dir, 'nats');
  mkdirSync(store);
  writeFileSync(join(sim.dir, 'operator.jwt'), operatorJwt);
  writeFileSync(join(sim.dir, 'nats.conf'), `listen: "127.0.0.1:${port}"
http: "127.0.0.1:${mon}"
operator: ${JSON.stringify(join(sim.dir, 'operator.jwt'))}
system_account: ${sys.getPublicKey()}
resolver: MEMORY
resolver_preload: {
  ${acct.getPublicKey()}: ${JSON.stringify(acctJwt)}
  ${sys.getPublicKey()}: ${JSON.stringify(sysJwt)}
}
jetstream { store_dir: ${JSON.stringify(store)} }
`);
  nats = await startNats(natsBin, ['-c', join(sim.dir, 'nats.conf')], mon, natsLog);

  const base = (stream) => ['--cluster', `nats://127.0.0.1:${port}`, '--cluster-stream', stream,
    '--cluster-allow-unauthenticated',
    '--cluster-replicas', '1', '--batch-linger-ms', '5'];

  // 2, 3: no credentials, a user of an unknown account, an expired user: refused at start.
  const auth = /cannot connect to NATS.*[Aa]uthorization/;
  // authFailed: refused, and nats-server logged the authentication error (and `also`) since.
  const authFailed = async (dir, flags, what, also = null) => {
    const before = size(natsLog);
    await refused(dir, flags, what, auth);
    await waitFor(async () => {
      const said = since(natsLog, before);
      return /"v[^"]*:nearftd" - authentication error/.test(said) && (!also || also.test(said));
    }, `nats-server to log the authentication error (${what})`, 30000, 100);
  };
  await authFailed('none', base('NFCREDS'), 'no credentials');
  await authFailed('foreign', [...base('NFCREDS'), '--cluster-creds', foreign],
    'a user JWT signed by an account key the server does not know', /Account fetch failed: account missing/);
  await authFailed('expired', [...base('NFCREDS'), '--cluster-creds', expired], 'an expired user JWT');

  // 1: a valid user of the account: it serves; transfers land exactly once.
  const d = await startDaemon(nearftd, sim, join(sim.dir, 'ok'), [...base('NFCREDS'), '--cluster-creds', good],
    { logFile: log });
  const memos = [];
  for (let i = 0; i < 20; i++) {
    const t = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `creds-${i}` };
    const r = await request(d.port, 'POST', '/v1/transfers', t);
    check(r.status === 202, `transfer ${i} accepted with NATS user credentials (${r.status})`);
    if (r.status === 202) memos.push(t.memo);
  }
  await waitApplied(sim.port, memos, 'the transfers applied');
  await checkExactlyOnce(sim.port, memos, [], 'NATS user credentials');
  const streams = (await request(mon, 'GET', '/jsz?streams=true&accounts=true')).body;
  const names = (streams.account_details || []).flatMap((a) => (a.stream_detail || []).map((s) => s.name));
  check(names.includes('NFCREDS'), `the log's stream is in the account's JetStream (${names})`);
  check((await d.stop()) === 0, 'nearftd stops with status 0');

  // 4a: a user denied the JetStream API: admitted by the server, but its stream requests are
  // dropped; nearftd sees the server's permission report and refuses to start at once.
  const natsBefore = size(natsLog);
  const saidApi = await refused('no-js-api', [...base('NFNOAPI'), '--cluster-creds', noApi],
    'a user denied publishing to $JS.API.>', /may not use the JetStream API/);
  check(!/cannot connect to NATS/.test(saidApi),
    'the user denied the JetStream API did connect (the refusal names the API, not the connection)');
  await waitFor(async () => /Publish Violation.*"\$JS\.API\.STREAM\.INFO\.NFNOAPI"/.test(since(natsLog, natsBefore)),
    'nats-server to log the JetStream API publish violation', 30000, 100);

  // 4b: a user denied only the stream's subject: it starts (the stream and the lease bucket are
  // reachable). The denied log message was not stored, and nearftd knows it from the server's
  // report: the transfer is answered 503 and /health names the permission. Stopped, it exits 0.
  const natsBefore2 = size(natsLog);
  const logBefore = size(log);
  const d2 = await startDaemon(nearftd, sim, join(sim.dir, 'no-log'), [...base('NFDENY'), '--cluster-creds', noLog],
    { logFile: log });
  const t = { receiver_id: 'user-x.test.near', amount: '1', memo: 'denied-0' };
  const r = await request(d2.port, 'POST', '/v1/transfers', t, { fresh: true });
  check(r.status === 503, `the transfer whose log message is denied is answered 503 (${r.status} ${r.text.slice(0, 160)})`);
  await waitFor(async () => /Publish Violation.*"NFDENY\.log"/.test(since(natsLog, natsBefore2)),
    'nats-server to log the publish violation on NFDENY.log', 30000, 100);
  console.log('a user denied publishing to NFDENY.log: ' +
    since(log, logBefore).split('\n').find((l) => /denies this instance's user publishing/.test(l)));
  const h = await request(d2.port, 'GET', '/health', undefined, { fresh: true });
  check(h.status === 503 && /NATS denies this instance's user publishing to the cluster log/.test(h.text),
    `/health is degraded and names the permission (${h.status} ${h.text.slice(0, 200)})`);
  const exit = await stopProc(d2.proc);
  check(exit === 0, `stopped, nearftd exits 0: no log message's outcome is unknown (${exit})`);
  await checkExactlyOnce(sim.port, memos, [t.memo], 'after the denied publish');
  code = report('cluster_creds');
} catch (e) {
  console.error(`cluster_creds: FAIL: ${e.stack || e}`);
  code = 1;
} finally {
  if (nats) await stopProc(nats, 'SIGKILL');
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
