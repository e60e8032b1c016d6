// cluster_tls: cluster mode over TLS with client certificates (--cluster-tls-ca, --cluster-tls-cert,
// --cluster-tls-key) against a real nats-server that requires and verifies them. Certificates are
// made fresh by openssl: a CA, a server certificate for 127.0.0.1 and a client certificate signed by
// it, and a second, unrelated CA. nearftd must refuse to start (naming the NATS connection) without
// TLS, without a client certificate, and when the server's certificate is not signed by the CA it
// was given; with the right three it serves, and nearsim's audit shows its transfers applied
// exactly once.
// Usage: node cluster_tls.mjs NEARSIM NEARFTD NATS_SERVER HAS_LIBNATS(0|1)
// Exits 77 (skipped) without nats-server, openssl or a libnats build.
import { startSim, startDaemon, request, waitFor, waitApplied, stopProc, check, report, keepOrClean,
         refusedAtStart, START_LIMIT_MS } from './lib/harness.mjs';
import { freePorts, requireNats, startNats } from './lib/cluster.mjs';
import { checkExactlyOnce } from './faults_lib.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [nearsim, nearftd, natsBin, hasNats] = process.argv.slice(2);
function find(name) {
  const dirs = [...(process.env.PATH || '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}
const openssl = find('openssl');
requireNats('cluster_tls', natsBin, hasNats);
if (!openssl) {
  console.log('cluster_tls: SKIP: openssl is not installed (scripts/install-deps.sh installs it)');
  process.exit(77);
}


// makeCerts: CA, server certificate (127.0.0.1, localhost), client certificate, another CA.
function makeCerts(dir) {
  const o = (args) => execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  for (const ca of ['ca', 'other-ca'])
    o(['req', '-x509', ...ec, '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2',
       '-subj', `/CN=nearft test ${ca}`, '-addext', 'basicConstraints=critical,CA:TRUE',
       '-addext', 'keyUsage=critical,keyCertSign']);
  const leaf = (name, ext) => {
    o(['req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    o(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
       '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  };
  leaf('server', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'extendedKeyUsage=clientAuth\n');
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const log = join(sim.dir, 'nearftd.log');
let nats = null;
let code = 1;

// refused: nearftd with these flags must exit before it is ready, saying it cannot reach NATS.
const refused = (dir, flags, what) =>
  refusedAtStart(nearftd, sim, log, dir, flags, /cannot connect to NATS/, what);

try {
  const certs = join(sim.dir, 'certs');
  mkdirSync(certs);
  makeCerts(certs);
  const [port, mon] = await freePorts(2);
  const store = join(sim.dir, 'nats');
  mkdirSync(store);
  const c = (f) => JSON.stringify(join(certs, f));
  writeFileSync(join(sim.dir, 'nats.conf'), `listen: "127.0.0.1:${port}"
http: "127.0.0.1:${mon}"
jetstream { store_dir: ${JSON.stringify(store)} }
tls {
  cert_file: ${c('server.crt')}
  key_file: ${c('server.key')}
  ca_file: ${c('ca.crt')}
  verify: true
}
`);
  nats = await startNats(natsBin, ['-c', join(sim.dir, 'nats.conf')], mon, join(sim.dir, 'nats.log'));

  const base = ['--cluster', `tls://127.0.0.1:${port}`, '--cluster-stream', 'NFTLS',
    '--cluster-allow-unauthenticated',
    '--cluster-replicas', '1', '--batch-linger-ms', '5'];
  const ca = ['--cluster-tls-ca', join(certs, 'ca.crt')];
  const mine = ['--cluster-tls-cert', join(certs, 'client.crt'), '--cluster-tls-key', join(certs, 'client.key')];

  // Refusals: each must stop start-up before anything is served.
  await refused('plain', ['--cluster', `nats://127.0.0.1:${port}`, '--cluster-stream', 'NFTLS',
    '--cluster-allow-unauthenticated'],
    'no TLS options against a server that requires TLS');
  await refused('no-cert', [...base, ...ca], 'TLS without a client certificate');
  await refused('other-ca', [...base, '--cluster-tls-ca', join(certs, 'other-ca.crt'), ...mine],
    'a server certificate not signed by the given CA');
  await refusedAtStart(nearftd, sim, log, 'half', [...base, ...ca, '--cluster-tls-cert', join(certs, 'client.crt')],
    /--cluster-tls-cert and --cluster-tls-key go together/, 'a client certificate without its key');

  // The right CA and client certificate: it serves; transfers land exactly once.
  const d = await startDaemon(nearftd, sim, join(sim.dir, 'ok'), [...base, ...ca, ...mine], { logFile: log });
  const memos = [];
  for (let i = 0; i < 20; i++) {
    const t = { receiver_id: `user-${i}.test.near`, amount: '1', memo: `tls-${i}` };
    const r = await request(d.port, 'POST', '/v1/transfers', t);
    check(r.status === 202, `transfer ${i} accepted over a TLS-backed log (${r.status})`);
    if (r.status === 202) memos.push(t.memo);
  }
  await waitApplied(sim.port, memos, 'the transfers applied');
  await checkExactlyOnce(sim.port, memos, [], 'TLS with client certificates');
  check((await d.stop()) === 0, 'nearftd stops with status 0');
  code = report('cluster_tls');
} catch (e) {
  console.error(`cluster_tls: FAIL: ${e.stack || e}`);
  code = 1;
} finally {
  if (nats) await stopProc(nats, 'SIGKILL');
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
