// status_page: GET / on real processes (nearsim + nearftd with --auth-tokens, headless Chromium).
// The page needs the metrics scope (401 without a token, 403 with a transfer-only one), loads no
// external asset and carries a Content-Security-Policy that allows only this origin. Chromium opens
// it (the bearer token set as an extra header over the DevTools protocol, as a header-adding proxy
// would) while transfers flow: the numbers appear (executed total, latency percentiles, queue,
// breaker per endpoint, usable keys, recent failures with their reasons) and move (the executed
// total and the refresh count grow between two reads). Everything is waited for by state, never by
// time. A screenshot is saved as status_page.png in the working directory (the test's output).
// CORS: nearftd runs with --allowed-origins naming one of two page servers on 127.0.0.1 (other
// ports, so other origins); from a page of that origin Chromium's fetch of POST /v1/transfers with
// a bearer token and an Idempotency-Key (a preflighted request) gets the 202 and reads the id in
// it; from the other origin the same fetch is blocked by the browser.
// Exits 77 (skipped) when no chromium is installed.
// Usage: node --experimental-websocket status_page.mjs NEARSIM NEARFTD NEARFT
import { startSim, startDaemon, request, waitFor, check, report, keepOrClean, stopProc } from './lib/harness.mjs';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';

const [nearsim, nearftd, nearft] = process.argv.slice(2);

function findChromium() {
  for (const c of [process.env.NF_CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!c) continue;
    try { execFileSync('sh', ['-c', `command -v ${c}`], { stdio: 'pipe' }); return c; } catch {}
  }
  return null;
}
const chromiumBin = findChromium();
if (!chromiumBin) {
  console.log('SKIP status_page: no chromium found (install the Debian package chromium)');
  process.exit(77);
}
if (typeof WebSocket === 'undefined') {
  console.log('status_page: run with node --experimental-websocket (Node 20) or Node 22+');
  process.exit(2);
}

function addToken(file, name, scopes) {
  return execFileSync(nearft, ['auth', 'add', '--file', file, '--name', name, '--scopes', scopes])
    .toString().trim();
}
const bearer = (tok) => ({ authorization: `Bearer ${tok}` });

// ---- a minimal DevTools-protocol client over the browser's WebSocket -----------------------------
function startChromium(profile) {
  return new Promise((resolveStart, reject) => {
    const proc = spawn(chromiumBin, ['--headless=new', '--no-sandbox', '--disable-gpu',
      '--disable-dev-shm-usage', '--no-first-run', '--disable-extensions',
      '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0',
      `--user-data-dir=${profile}`, '--window-size=1280,900', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    const t = setTimeout(() => reject(new Error(`chromium printed no DevTools address: ${err.slice(-400)}`)),
      Number(process.env.NF_START_LIMIT_MS || 90000));
    proc.stderr.on('data', (d) => {
      err += d.toString();
      const m = err.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) { clearTimeout(t); proc.stderr.resume(); resolveStart({ proc, url: m[1] }); }
    });
    proc.on('exit', (code) => { clearTimeout(t); reject(new Error(`chromium exited ${code}: ${err.slice(-400)}`)); });
  });
}

function cdpConnect(url) {
  return new Promise((resolveConn, reject) => {
    const ws = new WebSocket(url);
    let next = 1;
    const waiting = new Map();
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.id && waiting.has(msg.id)) {
        const { ok, fail } = waiting.get(msg.id);
        waiting.delete(msg.id);
        if (msg.error) fail(new Error(`${msg.error.message} (${msg.error.code})`));
        else ok(msg.result);
      }
    };
    ws.onerror = () => reject(new Error('DevTools connection failed'));
    ws.onopen = () => resolveConn({
      send(method, params = {}, sessionId) {
        const id = next++;
        ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
        return new Promise((ok, fail) => waiting.set(id, { ok, fail }));
      },
      close() { ws.close(); },
    });
  });
}

// pageServer: a page of its own origin (http://127.0.0.1:PORT) for the CORS checks.
function pageServer() {
  return new Promise((resolveServer) => {
    const srv = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>ops</title><p>ops page</p>');
    });
    srv.listen(0, '127.0.0.1', () => resolveServer(srv));
  });
}

// ---- the run --------------------------------------------------------------------------------------
const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '4']);
const tokFile = join(sim.dir, 'tokens');
const tPay = addToken(tokFile, 'payouts', 'transfer,read');
const tOps = addToken(tokFile, 'ops', 'metrics');
const allowedPage = await pageServer();
const foreignPage = await pageServer();
const allowedOrigin = `http://127.0.0.1:${allowedPage.address().port}`;
const foreignOrigin = `http://127.0.0.1:${foreignPage.address().port}`;
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--auth-tokens', tokFile,
  '--allowed-origins', allowedOrigin], { logFile: join(sim.dir, 'nearftd.log') });

let browser = null;
let cdp = null;
let code = 1;
let stopLoad = false;
try {
  // The route itself: scope, type, policy, nothing external.
  let r = await request(d.port, 'GET', '/');
  check(r.status === 401 && /Bearer/.test(r.headers['www-authenticate'] || ''), `GET / without a token: 401 (${r.status})`);
  r = await request(d.port, 'GET', '/', undefined, { headers: bearer(tPay) });
  check(r.status === 403, `GET / with a transfer-only token: 403 (${r.status})`);
  r = await request(d.port, 'GET', '/', undefined, { headers: bearer(tOps) });
  check(r.status === 200 && /^text\/html/.test(r.headers['content-type'] || ''), `GET / with the metrics token: 200 text/html (${r.status} ${r.headers['content-type']})`);
  const csp = r.headers['content-security-policy'] || '';
  check(/default-src 'none'/.test(csp) && /connect-src 'self'/.test(csp), `page policy allows only this origin: ${csp}`);
  check(!/<(script|link|img|iframe)[^>]*\s(src|href)=/i.test(r.text) && !/url\(/.test(r.text) && !/@import/.test(r.text),
    'the page loads no external asset');
  r = await request(d.port, 'GET', '/debug/recent', undefined, { headers: bearer(tPay) });
  check(r.status === 403, `/debug/recent needs the metrics scope (${r.status})`);

  // Load: transfers to registered receivers, and some to an account that does not exist (they
  // fail with a reason the page must list). Runs until the checks are done.
  let sent = 0;
  const load = (async () => {
    while (!stopLoad) {
      const batch = [];
      for (let k = 0; k < 20; k++, sent++) {
        const receiver = sent % 10 === 9 ? `nobody-${sent}.test.near` : `user-${sent % 200}.test.near`;
        batch.push(request(d.port, 'POST', '/v1/transfers', { receiver_id: receiver, amount: String(1 + (sent % 7)) },
          { headers: bearer(tPay) }).catch(() => null));
      }
      await Promise.all(batch);
    }
  })();

  const profile = join(sim.dir, 'chromium-profile');
  browser = await startChromium(profile);
  cdp = await cdpConnect(browser.url);
  const { targetId } = await cdp.send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true });
  await cdp.send('Network.enable', {}, sessionId);
  await cdp.send('Network.setExtraHTTPHeaders', { headers: bearer(tOps) }, sessionId);
  await cdp.send('Page.enable', {}, sessionId);
  await cdp.send('Page.navigate', { url: `http://127.0.0.1:${d.port}/?every_ms=500` }, sessionId);

  const read = async () => {
    const expr = `(() => {
      const t = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
      return JSON.stringify({ polls: t('polls'), executed: t('executed-total'), accepted: t('accepted-total'),
        failed: t('failed-total'), p50: t('p50'), p99: t('p99'), status: t('status'),
        usable: t('keys-usable'), capacity: t('queue-capacity'), fetchError: t('fetch-error'),
        breakers: [...document.querySelectorAll('#breakers tr')].map((tr) => tr.textContent),
        failures: [...document.querySelectorAll('#failures tr')].map((tr) => tr.textContent) });
    })()`;
    const res = await cdp.send('Runtime.evaluate', { expression: expr, returnByValue: true }, sessionId);
    try { return JSON.parse(res.result.value); } catch { return null; }
  };

  let first = null;
  await waitFor(async () => {
    const v = await read();
    if (v && Number(v.polls) >= 2 && Number(v.executed) > 0 && v.failures.length > 0 && v.p50 !== '–') first = v;
    return first !== null;
  }, 'the page shows executed transfers, latency and failures');
  check(first.fetchError === '', `no fetch error on the page: ${first.fetchError}`);
  check(first.status === 'ok', `status ok: ${first.status}`);
  check(Number(first.usable) > 0, `usable keys shown: ${first.usable}`);
  check(Number(first.capacity) > 0, `queue capacity shown: ${first.capacity}`);
  check(first.breakers.length === 1 && /closed/.test(first.breakers[0]) && first.breakers[0].includes(`127.0.0.1:${sim.port}`),
    `breaker per endpoint: ${JSON.stringify(first.breakers)}`);
  check(first.failures.some((f) => /nobody-\d+\.test\.near/.test(f) && /does not exist/.test(f)),
    `recent failures carry receiver and reason: ${first.failures[0]}`);
  check(Number(first.p50) >= 1 && Number(first.p99) >= Number(first.p50), `percentiles: p50 ${first.p50} p99 ${first.p99}`);

  let second = null;
  await waitFor(async () => {
    const v = await read();
    if (v && Number(v.polls) > Number(first.polls) && Number(v.executed) > Number(first.executed)) second = v;
    return second !== null;
  }, 'the numbers move (executed total and refresh count grow)');
  check(Number(second.accepted) >= Number(second.executed) + Number(second.failed),
    `accepted ${second.accepted} covers executed ${second.executed} + failed ${second.failed}`);

  const shot = await cdp.send('Page.captureScreenshot', { format: 'png' }, sessionId);
  const png = resolve('status_page.png');
  writeFileSync(png, Buffer.from(shot.data, 'base64'));
  console.log(`screenshot: ${png}`);

  // CORS: a fetch from a page of each origin, in a tab without the extra header.
  const corsFetch = async (origin, key) => {
    const t = await cdp.send('Target.createTarget', { url: 'about:blank' });
    const s = (await cdp.send('Target.attachToTarget', { targetId: t.targetId, flatten: true })).sessionId;
    await cdp.send('Page.enable', {}, s);
    await cdp.send('Page.navigate', { url: `${origin}/` }, s);
    await waitFor(async () => {
      const v = await cdp.send('Runtime.evaluate', { expression: 'location.origin + " " + document.readyState', returnByValue: true }, s);
      return v.result.value === `${origin} complete`;
    }, `the page of ${origin} loaded`);
    const expr = `fetch('http://127.0.0.1:${d.port}/v1/transfers', { method: 'POST',
        headers: { 'Authorization': 'Bearer ${tPay}', 'Content-Type': 'application/json', 'Idempotency-Key': '${key}' },
        body: JSON.stringify({ receiver_id: 'user-3.test.near', amount: '1' }) })
      .then(async (r) => JSON.stringify({ status: r.status, body: await r.json() }))
      .catch((e) => 'blocked: ' + e)`;
    const v = await cdp.send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true }, s);
    await cdp.send('Target.closeTarget', { targetId: t.targetId });
    return v.result.value;
  };
  const allowed = await corsFetch(allowedOrigin, 'cors-allowed');
  let got = null;
  try { got = JSON.parse(allowed); } catch {}
  check(got && got.status === 202 && /^\d+-[0-9a-f]{16}$/.test(got.body.id),
    `a page of the allowed origin reads the 202 of its preflighted POST: ${allowed}`);
  const foreign = await corsFetch(foreignOrigin, 'cors-foreign');
  check(/^blocked: TypeError/.test(foreign), `a page of another origin is blocked by the browser: ${foreign}`);
  // ... by nearftd's 403 to its preflight: the POST itself was never sent.
  const m = (await request(d.port, 'GET', '/metrics', undefined, { headers: bearer(tOps) })).text;
  const forbidden = Number((m.match(/^nearft_http_requests_total\{route="v1_transfers_post",code="403"\} (\d+)$/m) || [])[1] || 0);
  check(forbidden >= 1, `the foreign preflight was answered 403 (${forbidden})`);
  stopLoad = true;
  await load;
  code = report('status_page');
} catch (e) {
  console.error(`FAIL status_page: ${e.stack || e.message}`);
  code = 1;
} finally {
  stopLoad = true;
  if (cdp) { try { await Promise.race([cdp.send('Browser.close'), new Promise((ok) => setTimeout(ok, 5000))]); } catch {} cdp.close(); }
  if (browser) await stopProc(browser.proc, 'SIGTERM', 10000);
  await d.stop();
  await sim.stop();
  allowedPage.close();
  foreignPage.close();
  keepOrClean(sim.dir, code, 'status_page');
}
process.exit(code);
