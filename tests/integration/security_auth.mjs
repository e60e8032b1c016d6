// security_auth: nearftd's bearer tokens on real processes (nearsim + nearftd on 127.0.0.1, the
// tokens made by the nearft CLI). Every route but GET /health answers 401 with WWW-Authenticate:
// Bearer without a token or with an unknown one, 403 with a token that lacks the route's scope,
// and serves a token that holds it; /health shows its details to the metrics scope only; SIGHUP re-reads the token file (a token added then works, a
// removed one stops working, waited for by state); a token whose expires= has passed gets 401
// saying when, one expiring in 2099 is served, both are exported as
// nearft_auth_token_expiry_timestamp_seconds and listed by `nearft auth list`, and `nearft auth
// add --expires` refuses a past time; a token with from= works from its networks and gets 401
// from any other address (listed by `nearft auth list`; a network with host bits is refused by
// `nearft auth add --from`); a head announcing a 1 MB body without a valid token is
// answered 401 (or 403 without the scope, 403 from a foreign Origin) before any of the body is
// sent, and the connection closes; a malformed file keeps the old tokens on
// SIGHUP and names its line in the log, and stops start-up with the line number. A --listen
// address that is not loopback is refused without --auth-tokens unless --allow-unauthenticated
// (checked on 192.0.2.1, TEST-NET-1: the refusal comes before any bind, and with either flag the
// run gets past the check and fails only at the bind, so no test listens beyond 127.0.0.1).
// Browser defences: a POST without Content-Type: application/json gets 415, a request whose Origin
// is not in --allowed-origins gets 403, an HTTP/1.1 request without Host gets 400. RPC URLs with a
// path, query and user:password (where providers put API keys) are shown as scheme://host[:port]
// only in /health, /metrics, the log and --print-config; nearsim serves JSON-RPC only on "/", so
// a small proxy in this test takes the secret path, records it and forwards to nearsim's "/".
// Usage: node security_auth.mjs NEARSIM NEARFTD NEARFT
import { startSim, startDaemon, request, waitFor, check, report, keepOrClean, TRANSFER_ID } from './lib/harness.mjs';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { join } from 'node:path';

const [nearsim, nearftd, nearft] = process.argv.slice(2);

// addToken: `nearft auth add`; returns the token it printed.
function addToken(file, name, scopes) {
  return execFileSync(nearft, ['auth', 'add', '--file', file, '--name', name, '--scopes', scopes])
    .toString().trim();
}
const bearer = (tok) => ({ authorization: `Bearer ${tok}` });

// startFails: nearftd with args must exit non-zero before it is ready; resolves {code, stderr}.
function startFails(args) {
  return new Promise((resolve) => {
    const p = spawn(nearftd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 60000);
    p.on('exit', (code, sig) => { clearTimeout(t); resolve({ code: code ?? sig, out }); });
  });
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const tokFile = join(sim.dir, 'tokens');
const tTransfer = addToken(tokFile, 'payouts', 'transfer,read');
const tRead = addToken(tokFile, 'dashboard', 'read');
const tMetrics = addToken(tokFile, 'scraper', 'metrics');
const logFile = join(sim.dir, 'nearftd.log');
const baseArgs = ['--rpc-url', `http://127.0.0.1:${sim.port}`, '--signer', 'distributor.test.near',
  '--credentials', sim.creds, '--contract', 'ft.test.near', '--data-dir', join(sim.dir, 'data-x')];
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'),
  ['--auth-tokens', tokFile, '--wait-timeout-ms', '20000', '--allowed-origins', 'https://ops.example'],
  { logFile });

// rawStatus: sends text as is on a fresh connection; resolves the status line of the answer.
function rawStatus(port, text) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let buf = '';
    s.on('data', (c) => { buf += c; });
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.setTimeout(30000, () => { s.destroy(); reject(new Error('raw request timed out')); });
  });
}
let code = 1;
try {
  const body = { receiver_id: 'user-1.test.near', amount: '5', memo: `sec-${Date.now()}` };

  // 1. /health is open, but its details (reasons, queues, endpoints, keys) only for the metrics
  // scope: a load balancer's probe gets the verdict alone.
  const h = await request(d.port, 'GET', '/health');
  check(h.status !== 401 && h.status !== 403 && h.body && h.body.status, `/health open: ${h.status} ${h.text}`);
  check(h.body && Object.keys(h.body).join() === 'status', `/health without a token: the verdict only: ${h.text}`);
  const hTransfer = await request(d.port, 'GET', '/health', undefined, { headers: bearer(tTransfer) });
  check(hTransfer.body && Object.keys(hTransfer.body).join() === 'status', `/health with a transfer token: the verdict only: ${hTransfer.text}`);
  const hMetrics = await request(d.port, 'GET', '/health', undefined, { headers: bearer(tMetrics) });
  check(hMetrics.status === h.status && hMetrics.body && hMetrics.body.queue && Array.isArray(hMetrics.body.rpc) && hMetrics.body.keys,
    `/health with the metrics token: the details: ${hMetrics.text.slice(0, 200)}`);

  // 2. No token, a wrong scheme, an unknown token: 401 + WWW-Authenticate: Bearer, on every route.
  for (const [m, p, b] of [['POST', '/v1/transfers', body], ['GET', '/v1/transfers/1'],
    ['GET', '/v1/tx/11111111111111111111111111111111'], ['POST', '/send-ft', { receiverId: 'user-1.test.near', amount: '1' }],
    ['POST', '/transfer', { receiver_id: 'user-1.test.near', amount: '1' }], ['GET', '/transfer/1'],
    ['GET', '/metrics'], ['GET', '/debug/stages'], ['GET', '/no-such-route']]) {
    const r = await request(d.port, m, p, b);
    check(r.status === 401 && /^Bearer\b/.test(r.headers['www-authenticate'] || ''),
      `${m} ${p} without a token: ${r.status} ${r.headers['www-authenticate']} ${r.text}`);
  }
  // ... and before the body: a head announcing 1 MB, none of it sent, is answered at once.
  const bigHead = (extra) => `POST /v1/transfers HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n${extra}Content-Length: 1000000\r\n\r\n`;
  for (const [extra, want, what] of [
    ['', /^HTTP\/1\.1 401 [^]*Connection: close\r\n[^]*"field":"Authorization"/, 'no token'],
    ['Authorization: Bearer nft_notAToken\r\n', /^HTTP\/1\.1 401 [^]*unknown token/, 'an unknown token'],
    [`Authorization: Bearer ${tRead}\r\n`, /^HTTP\/1\.1 403 [^]*lacks the transfer scope/, 'a token without the scope'],
    [`Authorization: Bearer ${tTransfer}\r\nOrigin: https://evil.example\r\n`, /^HTTP\/1\.1 403 [^]*"field":"Origin"/, 'a foreign Origin']]) {
    const raw = await rawStatus(d.port, bigHead(extra));
    check(want.test(raw), `a 1 MB POST with ${what}: answered before its body, then closed: ${raw.slice(0, 200)}`);
  }
  let r = await request(d.port, 'POST', '/v1/transfers', body);
  check(r.body && r.body.error === 'unauthorized' && r.body.field === 'Authorization' &&
    /Bearer/.test(r.body.reason), `401 body names Authorization: ${r.text}`);
  r = await request(d.port, 'POST', '/v1/transfers', body, { headers: bearer('nft_notAToken') });
  check(r.status === 401 && /invalid_token/.test(r.headers['www-authenticate'] || '') &&
    r.body.reason === 'unknown token', `unknown token: ${r.status} ${r.text}`);
  r = await request(d.port, 'POST', '/v1/transfers', body, { headers: { authorization: `Basic ${tTransfer}` } });
  check(r.status === 401, `Basic scheme: ${r.status}`);
  r = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-1.test.near', amount: '1' },
    { headers: bearer(tTransfer.slice(0, -1)) });
  check(r.status === 401 && r.body && /Authorization/.test(r.body.error), `send-ft truncated token: ${r.status} ${r.text}`);

  // 3. A token without the route's scope: 403.
  r = await request(d.port, 'POST', '/v1/transfers', body, { headers: bearer(tRead) });
  check(r.status === 403 && r.body.error === 'forbidden' && /transfer scope/.test(r.body.reason) &&
    /insufficient_scope/.test(r.headers['www-authenticate'] || ''), `read token on POST: ${r.status} ${r.text}`);
  r = await request(d.port, 'POST', '/transfer', { receiver_id: 'user-1.test.near', amount: '1' }, { headers: bearer(tMetrics) });
  check(r.status === 403, `metrics token on /transfer: ${r.status}`);
  r = await request(d.port, 'GET', '/metrics', undefined, { headers: bearer(tTransfer) });
  check(r.status === 403, `transfer token on /metrics: ${r.status}`);
  r = await request(d.port, 'GET', '/v1/transfers/1', undefined, { headers: bearer(tMetrics) });
  check(r.status === 403, `metrics token on a status route: ${r.status}`);

  // 4. The right scope is served.
  r = await request(d.port, 'POST', '/v1/transfers', body, { headers: bearer(tTransfer) });
  check(r.status === 202 && TRANSFER_ID.test(r.body.id), `transfer token on POST: ${r.status} ${r.text}`);
  const id = r.body && r.body.id;
  r = await request(d.port, 'GET', `/v1/transfers/${id}`, undefined, { headers: bearer(tRead) });
  check(r.status === 200 && r.body.id === id, `read token on GET: ${r.status} ${r.text}`);
  r = await request(d.port, 'GET', `/transfer/${id}`, undefined, { headers: bearer(tTransfer) });
  check(r.status === 200 && r.body.success === true, `transfer,read token on the Node status route: ${r.status}`);
  r = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-2.test.near', amount: '1', memo: `sec-sf-${Date.now()}` },
    { headers: bearer(tTransfer) });
  check(r.status === 200 || r.status === 202, `transfer token on /send-ft: ${r.status} ${r.text}`);
  r = await request(d.port, 'POST', '/transfer', { receiver_id: 'user-3.test.near', amount: '1', memo: `sec-rs-${Date.now()}` },
    { headers: bearer(tTransfer) });
  check(r.status === 200 || r.status === 202, `transfer token on /transfer: ${r.status} ${r.text}`);
  r = await request(d.port, 'GET', '/metrics', undefined, { headers: bearer(tMetrics) });
  check(r.status === 200 && /nearft_http_requests_total\{route="v1_transfers_post",code="401"\} [1-9]/.test(r.text),
    `metrics token on /metrics, 401s counted: ${r.status}`);
  r = await request(d.port, 'GET', '/debug/stages', undefined, { headers: bearer(tMetrics) });
  check(r.status === 200, `metrics token on /debug/stages: ${r.status}`);
  r = await request(d.port, 'GET', '/no-such-route', undefined, { headers: bearer(tMetrics) });
  check(r.status === 404, `a valid token on an unknown path: ${r.status}`);
  r = await request(d.port, 'GET', '/metrics', undefined, { headers: { authorization: `bearer   ${tMetrics}` } });
  check(r.status === 200, `scheme case-insensitive, several spaces: ${r.status}`);

  // 5. SIGHUP: a token added to the file starts working, a removed one stops.
  const tNew = addToken(tokFile, 'newcomer', 'read');
  r = await request(d.port, 'GET', `/v1/transfers/${id}`, undefined, { headers: bearer(tNew) });
  check(r.status === 401, `a token added to the file is unknown before SIGHUP: ${r.status}`);
  d.proc.kill('SIGHUP');
  await waitFor(async () => (await request(d.port, 'GET', `/v1/transfers/${id}`, undefined,
    { headers: bearer(tNew) })).status === 200, 'the added token to work after SIGHUP');
  execFileSync(nearft, ['auth', 'remove', '--file', tokFile, '--name', 'dashboard']);
  d.proc.kill('SIGHUP');
  await waitFor(async () => (await request(d.port, 'GET', `/v1/transfers/${id}`, undefined,
    { headers: bearer(tRead) })).status === 401, 'the removed token to stop working after SIGHUP');
  r = await request(d.port, 'GET', `/v1/transfers/${id}`, undefined, { headers: bearer(tNew) });
  check(r.status === 200, `the other tokens survive the reload: ${r.status}`);

  // 5b. Expiry: "seasonal" expires in 2099 (written by `nearft auth add --expires`), "retired"
  // expired in 2020 (the option appended to its line); both load on SIGHUP.
  const tLater = execFileSync(nearft, ['auth', 'add', '--file', tokFile, '--name', 'seasonal',
    '--scopes', 'read', '--expires', '2099-01-01T00:00:00Z']).toString().trim();
  const tOld = addToken(tokFile, 'retired', 'read');
  writeFileSync(tokFile, readFileSync(tokFile, 'utf8').replace(/^(retired .*)$/m, '$1 expires=2020-01-01T00:00:00Z'));
  // reloadedRefused: SIGHUP, wait until the token `good` is served (the new file is in use), then
  // `bad` must get 401 invalid_token with exactly `reason`.
  const reloadedRefused = async (good, bad, reason, what) => {
    d.proc.kill('SIGHUP');
    await waitFor(async () => (await request(d.port, 'GET', `/v1/transfers/${id}`, undefined,
      { headers: bearer(good) })).status === 200, `${what}: the reloaded file in use`);
    const a = await request(d.port, 'GET', `/v1/transfers/${id}`, undefined, { headers: bearer(bad) });
    check(a.status === 401 && /error="invalid_token"/.test(a.headers['www-authenticate'] || '') &&
      a.body.reason === reason, `${what}: 401 saying why: ${a.status} ${a.headers['www-authenticate']} ${a.text}`);
  };
  await reloadedRefused(tLater, tOld, 'the token expired at 2020-01-01T00:00:00Z', 'an expired token');
  r = await request(d.port, 'GET', '/metrics', undefined, { headers: bearer(tMetrics) });
  check(r.text.includes('nearft_auth_token_expiry_timestamp_seconds{token="seasonal"} 4070908800') &&
    r.text.includes('nearft_auth_token_expiry_timestamp_seconds{token="retired"} 1577836800') &&
    !/nearft_auth_token_expiry_timestamp_seconds\{token="payouts"\}/.test(r.text),
  'the expiry metric has a sample per token with expires=, and none for the others');
  const listed = execFileSync(nearft, ['auth', 'list', '--file', tokFile]).toString();
  check(/^seasonal read expires=2099-01-01T00:00:00Z$/m.test(listed) &&
    /^retired read expired=2020-01-01T00:00:00Z$/m.test(listed) && /^payouts transfer,read$/m.test(listed),
  `nearft auth list shows the expiries: ${listed}`);
  const past = spawnSync(nearft, ['auth', 'add', '--file', tokFile, '--name', 'late', '--scopes', 'read',
    '--expires', '2020-06-01T00:00:00Z']);
  check(past.status === 2 && /that time has passed/.test(String(past.stderr)) &&
    !/^late /m.test(readFileSync(tokFile, 'utf8')),
  `auth add --expires in the past: exit 2, nothing added: ${past.status} ${past.stderr}`);

  // 5c. from=: "local" may come from 127.0.0.0/8 (this test's address), "elsewhere" only from
  // 192.0.2.0/24; both written by `nearft auth add --from`.
  const tLocal = execFileSync(nearft, ['auth', 'add', '--file', tokFile, '--name', 'local',
    '--scopes', 'read', '--from', '127.0.0.0/8,::1']).toString().trim();
  const tElsewhere = execFileSync(nearft, ['auth', 'add', '--file', tokFile, '--name', 'elsewhere',
    '--scopes', 'read', '--from', '192.0.2.0/24']).toString().trim();
  await reloadedRefused(tLocal, tElsewhere, 'the token may not be used from this client address',
    'a token used from outside its from= networks');
  const listedFrom = execFileSync(nearft, ['auth', 'list', '--file', tokFile]).toString();
  check(/^local read from=127\.0\.0\.0\/8,::1\/128$/m.test(listedFrom) &&
    /^elsewhere read from=192\.0\.2\.0\/24$/m.test(listedFrom), `nearft auth list shows from=: ${listedFrom}`);
  const badFrom = spawnSync(nearft, ['auth', 'add', '--file', tokFile, '--name', 'sloppy', '--scopes', 'read',
    '--from', '10.1.2.3/8']);
  check(badFrom.status === 2 && /bits set past its prefix/.test(String(badFrom.stderr)) &&
    !/^sloppy /m.test(readFileSync(tokFile, 'utf8')),
  `auth add --from with host bits: exit 2, nothing added: ${badFrom.status} ${badFrom.stderr}`);

  // 6. A malformed file on SIGHUP: the old tokens stay, the log names the line.
  const good = readFileSync(tokFile, 'utf8');
  const badLine = good.split('\n').filter((l) => l !== '').length + 1;
  appendFileSync(tokFile, 'broken-line-without-scopes\n');
  d.proc.kill('SIGHUP');
  await waitFor(() => readFileSync(logFile, 'utf8').includes(`line ${badLine}: want NAME SCOPES HASH`),
    'the log line naming the bad line');
  r = await request(d.port, 'GET', `/v1/transfers/${id}`, undefined, { headers: bearer(tNew) });
  check(r.status === 200, `the previous tokens stay after a bad reload: ${r.status}`);
  writeFileSync(tokFile, good);
  chmodSync(tokFile, 0o600);

  // 7. A malformed file stops start-up with the line number; so does a file others may read.
  const badFile = join(sim.dir, 'bad-tokens');
  writeFileSync(badFile, `# c\nok read ${'0'.repeat(64)}\nx admin ${'1'.repeat(64)}\n`, { mode: 0o600 });
  let f = await startFails([...baseArgs, '--listen', '127.0.0.1:0', '--auth-tokens', badFile]);
  check(f.code !== 0 && /line 3: unknown scope/.test(f.out), `bad token file at start-up: ${f.code} ${f.out}`);
  chmodSync(badFile, 0o644);
  writeFileSync(badFile, `ok read ${'0'.repeat(64)}\n`);
  f = await startFails([...baseArgs, '--listen', '127.0.0.1:0', '--auth-tokens', badFile]);
  check(f.code !== 0 && /chmod 600/.test(f.out), `token file readable by others: ${f.code} ${f.out}`);

  // 8. Browser defences: JSON only on POST, foreign Origins refused, Host required on HTTP/1.1.
  const auth = bearer(tTransfer);
  for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    r = await request(d.port, 'POST', '/v1/transfers', JSON.stringify(body), { headers: { ...auth, 'content-type': ct } });
    check(r.status === 415 && r.body.field === 'Content-Type', `POST with ${ct}: ${r.status} ${r.text}`);
  }
  r = await request(d.port, 'POST', '/send-ft', JSON.stringify({ receiverId: 'user-1.test.near', amount: '1' }),
    { headers: { ...auth, 'content-type': 'text/plain;charset=UTF-8' } });
  check(r.status === 415, `/send-ft with text/plain (a no-cors fetch): ${r.status}`);
  r = await request(d.port, 'POST', '/v1/transfers', { ...body, memo: `sec-ct-${Date.now()}` },
    { headers: { ...auth, 'content-type': 'application/json; charset=utf-8' } });
  check(r.status === 202, `application/json; charset=utf-8 accepted: ${r.status} ${r.text}`);
  r = await request(d.port, 'POST', '/v1/transfers', { ...body, memo: `sec-or-${Date.now()}` },
    { headers: { ...auth, origin: 'https://evil.example' } });
  check(r.status === 403 && r.body.field === 'Origin', `foreign Origin: ${r.status} ${r.text}`);
  r = await request(d.port, 'GET', '/health', undefined, { headers: { origin: 'http://localhost:8080' } });
  check(r.status === 403, `foreign Origin on /health: ${r.status}`);
  r = await request(d.port, 'POST', '/v1/transfers', { ...body, memo: `sec-ok-${Date.now()}` },
    { headers: { ...auth, origin: 'https://ops.example' } });
  check(r.status === 202, `allowed Origin: ${r.status} ${r.text}`);
  let raw = await rawStatus(d.port, 'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n');
  check(/^HTTP\/1\.1 400 /.test(raw) && raw.includes('"field":"Host"'), `HTTP/1.1 without Host: ${raw.slice(0, 80)}`);
  raw = await rawStatus(d.port, 'GET /health HTTP/1.0\r\n\r\n');
  check(/^HTTP\/1\.1 200 /.test(raw), `HTTP/1.0 without Host is served: ${raw.slice(0, 40)}`);

  // 9. A non-loopback --listen without --auth-tokens: refused before anything else, with the why.
  for (const listen of ['192.0.2.1:0', '0.0.0.0:0', ':0']) {
    f = await startFails([...baseArgs, '--listen', listen]);
    check(f.code === 2 && /is not a loopback address and --auth-tokens is not set/.test(f.out),
      `--listen ${listen} without tokens: ${f.code} ${f.out}`);
  }
  for (const extra of [['--allow-unauthenticated'], ['--auth-tokens', tokFile]]) {
    f = await startFails([...baseArgs, '--listen', '192.0.2.1:0', ...extra]);
    check(f.code !== 0 && !/not a loopback address/.test(f.out) && /cannot serve HTTP/.test(f.out),
      `--listen 192.0.2.1:0 ${extra[0]} passes the check and fails only at the bind: ${f.code} ${f.out}`);
  }

  // 10. RPC URLs redacted: a nearftd whose RPC URLs carry secrets in path, query and userinfo.
  const seenPaths = new Set();
  const upstream = new http.Agent({ keepAlive: true });
  const proxy = http.createServer((req, res) => {
    seenPaths.add(req.url);
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = http.request({ host: '127.0.0.1', port: sim.port, method: 'POST', path: '/', agent: upstream,
        headers: { 'content-type': 'application/json', 'content-length': body.length } }, (ur) => {
        const out = [];
        ur.on('data', (c) => out.push(c));
        ur.on('end', () => { res.writeHead(ur.statusCode, { 'content-type': 'application/json' }); res.end(Buffer.concat(out)); });
      });
      up.on('error', () => { res.writeHead(502); res.end(); });
      up.end(body);
    });
  });
  await new Promise((ok) => proxy.listen(0, '127.0.0.1', ok));
  const pport = proxy.address().port;
  const secretUrls = [`http://ops:hunter2@127.0.0.1:1/dead-secret-path?apikey=s3cr3t-dead`,
    `http://ops:hunter2@127.0.0.1:${pport}/secret-key-path?apikey=s3cr3t-live`];
  const secrets = ['hunter2', 'secret-key-path', 's3cr3t', 'dead-secret-path', 'apikey'];
  const log2 = join(sim.dir, 'nearftd-redact.log');
  const d2 = await startDaemon(nearftd, sim, join(sim.dir, 'data-redact'), [], { logFile: log2, rpcUrls: secretUrls });
  try {
    r = await request(d2.port, 'POST', '/v1/transfers', { ...body, memo: `sec-rd-${Date.now()}` });
    check(r.status === 202, `transfer through the secret-path RPC: ${r.status} ${r.text}`);
    await waitFor(() => seenPaths.has('/secret-key-path?apikey=s3cr3t-live'), 'nearftd to use the full URL');
    const hh = await request(d2.port, 'GET', '/health');
    const urls = (hh.body && hh.body.rpc || []).map((x) => x.url);
    check(JSON.stringify(urls) === JSON.stringify(['http://127.0.0.1:1', `http://127.0.0.1:${pport}`]),
      `/health shows scheme://host:port only: ${JSON.stringify(urls)}`);
    const mm = await request(d2.port, 'GET', '/metrics');
    check(mm.text.includes(`nearft_rpc_requests_total{url="http://127.0.0.1:${pport}"}`),
      '/metrics labels RPC URLs scheme://host:port');
    for (const [what, text] of [['/health', hh.text], ['/metrics', mm.text], ['/debug/stages',
      (await request(d2.port, 'GET', '/debug/stages')).text], ['the log', readFileSync(log2, 'utf8')]])
      for (const sec of secrets) check(!text.includes(sec), `${what} does not show ${sec}`);
    check(readFileSync(log2, 'utf8').includes('url=http://127.0.0.1:1 err='),
      'the log names the dead RPC as scheme://host:port');
  } finally {
    await d2.stop();
    proxy.close();
    upstream.destroy();
  }
  const pc = execFileSync(nearftd, ['--rpc-url', secretUrls.join(','), '--rpc-header',
    `http://ops:hunter2@127.0.0.1:${pport}/secret-key-path=X-Api-Key:s3cr3t-header`, '--signer', 'a.near',
    '--credentials', '/nonexistent', '--contract', 'b.near', '--print-config']).toString();
  check(pc.includes(`rpc_url = http://127.0.0.1:${pport}\n`) &&
    pc.includes(`rpc_header = http://127.0.0.1:${pport}=X-Api-Key:<redacted>`), `--print-config redacts: ${pc.split('\n').filter((l) => l.startsWith('rpc_')).join(' | ')}`);
  for (const sec of secrets.concat(['s3cr3t-header'])) check(!pc.includes(sec), `--print-config does not show ${sec}`);
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, report('security_auth') || code));
