// deploy_nginx: nginx as the TLS-terminating proxy of docs/DEPLOY.md in front of nearftd on nearsim.
// The site file is deploy/nginx/nearftd.conf itself, with only its ports, certificate paths and
// IPv6 listens swapped (each swap must match, so the example cannot drift from what is tested);
// the certificate is a fresh self-signed CA and server certificate (openssl). nginx runs in the
// foreground as one process under a temp prefix, on free 127.0.0.1 ports. Over HTTPS with that CA:
// /health, a 401 without a token, single, bulk, /send-ft (waits through the proxy) and an
// idempotent repeat; TLS without the CA is refused; the port-80 server redirects. nearsim's audit
// must show each transfer exactly once. Exit 77 (skipped) without nginx or openssl.
// Usage: node deploy_nginx.mjs NEARSIM NEARFTD NEARFT SITE_CONF
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import { startSim, startDaemon, waitFor, stopProc, check, report, keepOrClean,
         START_LIMIT_MS } from './lib/harness.mjs';
import { checkExactlyOnce } from './faults_lib.mjs';

const [nearsim, nearftd, nearft, siteConf] = process.argv.slice(2);
const run = `x${Date.now() % 100000}`;

// find: a program on PATH or in the sbin directories (nginx lives in /usr/sbin).
function find(name) {
  const dirs = [...(process.env.PATH || '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}
const nginx = find('nginx');
const openssl = find('openssl');
if (!nginx || !openssl) {
  console.log(`SKIP: ${!nginx ? 'nginx' : 'openssl'} not found (Debian packages nginx, openssl); ` +
              'the TLS proxy was not tested');
  process.exit(77);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// makeCerts: a CA and a server certificate for IP 127.0.0.1 / localhost signed by it.
function makeCerts(dir) {
  const o = (args) => execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  o(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2',
     '-subj', '/CN=nearft test CA', '-addext', 'basicConstraints=critical,CA:TRUE',
     '-addext', 'keyUsage=critical,keyCertSign']);
  o(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  o(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
     '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext']);
  return readFileSync(join(dir, 'ca.crt'));
}

// siteFor: the shipped site file with test ports and certificate; every swap must apply.
function siteFor(text, { tlsPort, httpPort, upstreamPort, dir }) {
  const swaps = [
    [/^(\s*)server 127\.0\.0\.1:8080;/m, `$1server 127.0.0.1:${upstreamPort};`],
    [/^(\s*)listen 443 ssl http2;/m, `$1listen 127.0.0.1:${tlsPort} ssl http2;`],
    [/^\s*listen \[::\]:443 ssl http2;\n/m, ''],
    [/^(\s*)listen 80;/m, `$1listen 127.0.0.1:${httpPort};`],
    [/^\s*listen \[::\]:80;\n/m, ''],
    [/^(\s*)ssl_certificate\s+\S+;/m, `$1ssl_certificate ${join(dir, 'server.crt')};`],
    [/^(\s*)ssl_certificate_key\s+\S+;/m, `$1ssl_certificate_key ${join(dir, 'server.key')};`],
  ];
  for (const [re, to] of swaps) {
    if (!re.test(text)) throw new Error(`${siteConf} no longer has a line matching ${re}: update this test`);
    text = text.replace(re, to);
  }
  return text;
}

function nginxConf(dir) {
  return `daemon off;
master_process off;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} info;
events { worker_connections 1024; }
http {
    access_log ${join(dir, 'access.log')};
    client_body_temp_path ${join(dir, 'tmp', 'body')};
    proxy_temp_path ${join(dir, 'tmp', 'proxy')};
    fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
    uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
    scgi_temp_path ${join(dir, 'tmp', 'scgi')};
    include ${join(dir, 'site.conf')};
}
`;
}

let ca;
const agent = new https.Agent({ keepAlive: true, maxSockets: 32 });
// tls: one HTTPS request through nginx; resolves {status, headers, body, text}.
function tls(port, method, path, body, headers = {}, opts = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request({ host: '127.0.0.1', port, method, path,
      ca: opts.noCa ? undefined : ca, agent: opts.noCa ? false : agent,
      headers: { ...(data ? { 'content-type': 'application/json',
        'content-length': Buffer.byteLength(data) } : {}), ...headers } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, body: json, text });
      });
    });
    req.setTimeout(120000, () => req.destroy(new Error(`timeout ${method} ${path}`)));
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const dir = join(sim.dir, 'nginx');
mkdirSync(join(dir, 'tmp'), { recursive: true });
let code = 1;
let ngx = null;
let d = null;
try {
  ca = makeCerts(dir);
  const tokens = join(sim.dir, 'tokens');
  const token = execFileSync(nearft, ['auth', 'add', '--file', tokens, '--name', 'client',
    '--scopes', 'transfer,read']).toString().trim();
  const bearer = { authorization: `Bearer ${token}` };
  d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--auth-tokens', tokens,
    '--batch-linger-ms', '10'], { logFile: join(sim.dir, 'nearftd.log') });

  // nginx on two free ports; a port taken between the probe and nginx's bind means a new try.
  const site = readFileSync(siteConf, 'utf8');
  let tlsPort, httpPort;
  for (let attempt = 0; attempt < 5 && !ngx; attempt++) {
    tlsPort = await freePort();
    httpPort = await freePort();
    writeFileSync(join(dir, 'site.conf'), siteFor(site, { tlsPort, httpPort, upstreamPort: d.port, dir }));
    writeFileSync(join(dir, 'nginx.conf'), nginxConf(dir));
    const args = ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', join(dir, 'error.log')];
    if (attempt === 0) {
      const t = spawnSync(nginx, ['-t', ...args], { encoding: 'utf8' });
      check(t.status === 0, `nginx -t accepts the shipped site file: ${t.stderr}`);
      if (t.status !== 0) throw new Error('nginx -t failed');
    }
    const p = spawn(nginx, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (c) => { err += c; });
    let exited = false;
    p.on('exit', () => { exited = true; });
    const up = await waitFor(async () => {
      if (exited) return 'exited';
      try { return (await tls(tlsPort, 'GET', '/health')).status ? 'up' : false; } catch { return false; }
    }, 'nginx answering over TLS', START_LIMIT_MS);
    if (up === 'up') ngx = p;
    else console.error(`nginx exited (attempt ${attempt + 1}): ${err.trim() || readFileSync(join(dir, 'error.log'), 'utf8').slice(-300)}`);
  }
  if (!ngx) throw new Error('nginx did not start');

  let r = await tls(tlsPort, 'GET', '/health');
  check(r.status === 200 && r.body && r.body.status === 'ok', `GET /health over TLS: ${r.status} ${r.text.slice(0, 200)}`);
  // The certificate is really checked: without the test CA the handshake is refused.
  const noCa = await tls(tlsPort, 'GET', '/health', undefined, {}, { noCa: true }).then(
    (x) => `answered ${x.status}`, (e) => e.code || String(e));
  check(/CERT|SELF_SIGNED|VERIFY/i.test(noCa), `TLS without the CA must fail verification: ${noCa}`);
  // The plain-HTTP server only redirects.
  const redirect = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: httpPort, path: '/v1/transfers/1' }, (res) => {
      res.resume();
      resolve({ status: res.statusCode, location: res.headers.location });
    }).on('error', reject);
  });
  check(redirect.status === 301 && /^https:\/\//.test(redirect.location || ''),
    `port-80 server redirects to https: ${redirect.status} ${redirect.location}`);
  // nearftd's own answers pass through: 401 without a token, with its JSON body.
  r = await tls(tlsPort, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1' });
  check(r.status === 401 && r.body && r.body.error, `no token through the proxy: ${r.status} ${r.text.slice(0, 200)}`);

  const memos = [];
  const ids = [];
  for (let i = 0; i < 30; i++) {
    const memo = `${run}-s-${i}`;
    r = await tls(tlsPort, 'POST', '/v1/transfers',
      { receiver_id: `user-${i % 7}.test.near`, amount: String(1 + i), memo }, bearer);
    check(r.status === 202 && r.body && r.body.id, `single ${i} over TLS: ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 202) { memos.push(memo); ids.push(r.body.id); }
  }
  const transfers = Array.from({ length: 200 }, (_, k) => ({ receiver_id: `user-${k % 11}.test.near`,
    amount: String(1 + k), memo: `${run}-b-${k}` }));
  r = await tls(tlsPort, 'POST', '/v1/transfers', { transfers }, bearer);
  check(r.status === 202 && r.body && r.body.transfers && r.body.transfers.length === 200,
    `bulk of 200 over TLS: ${r.status} ${r.text.slice(0, 200)}`);
  if (r.status === 202) {
    transfers.forEach((t) => memos.push(t.memo));
    r.body.transfers.forEach((t) => ids.push(t.id));
  }
  // A request that waits for its transaction, through the proxy.
  r = await tls(tlsPort, 'POST', '/send-ft', { receiverId: 'user-3.test.near', amount: '9',
    memo: `${run}-sf` }, bearer);
  check(r.status === 200 && r.body && r.body.success === true && r.body.transactionHash,
    `/send-ft waits through the proxy: ${r.status} ${r.text.slice(0, 200)}`);
  if (r.status === 200) memos.push(`${run}-sf`);
  // An idempotent repeat through the proxy returns the first transfer.
  const key = { ...bearer, 'Idempotency-Key': `${run}-idem` };
  const first = await tls(tlsPort, 'POST', '/v1/transfers',
    { receiver_id: 'user-5.test.near', amount: '5', memo: `${run}-idem` }, key);
  const again = await tls(tlsPort, 'POST', '/v1/transfers',
    { receiver_id: 'user-5.test.near', amount: '5', memo: `${run}-idem` }, key);
  check(first.body && again.body && first.body.id === again.body.id,
    `idempotent repeat through the proxy: ${first.text.slice(0, 120)} / ${again.text.slice(0, 120)}`);
  if (first.status === 202) { memos.push(`${run}-idem`); ids.push(first.body.id); }

  await waitFor(async () => {
    for (let i = 0; i < ids.length; i += 32) {
      const states = await Promise.all(ids.slice(i, i + 32).map((id) =>
        tls(tlsPort, 'GET', `/v1/transfers/${id}`, undefined, bearer).then((x) => x.body && x.body.status)));
      if (states.some((s) => s !== 'executed' && s !== 'failed')) return false;
    }
    return true;
  }, 'every transfer final (read over TLS)');
  await checkExactlyOnce(sim.port, memos, [], 'through nginx');
  const log = readFileSync(join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
  check(log.length >= ids.length, `nginx logged the requests it carried (${log.length})`);
  code = report('deploy_nginx');
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  agent.destroy();
  if (ngx) await stopProc(ngx);
  if (d) await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
