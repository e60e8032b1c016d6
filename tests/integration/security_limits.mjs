// security_limits: nearftd's spend and rate limits on real processes (nearsim + nearftd on
// 127.0.0.1). A transfer to the signer account or to the token contract gets 422 naming the
// receiver field on all three APIs (native, bulk, /send-ft, /transfer) and is never applied; an
// amount over --max-amount-per-transfer gets 422 naming amount; --max-amount-per-hour admits up
// to the limit and answers 429 with Retry-After after it; after kill -9 and a restart on the same
// data directory the hour is rebuilt from the log (still 429, the remaining-budget metric still
// 0), and nearsim's audit shows every accepted transfer applied exactly once and none of the
// refused ones. A second nearftd with --rate-limit 2 --rate-burst 3 answers at least one 429
// (Retry-After, the limit named) among 20 requests sent at once and lets at least the burst
// through, while GET /health is never limited; another with --rate-limit-global 3 serves 20
// requests at once from two client addresses only as far as one shared bucket allows. A third nearftd with a budget of 100 gets 60
// requests of 7 at once: exactly 14 are accepted and applied, the other 46 refused and never
// applied. A fourth nearftd with --auth-tokens, where the token "capped" has max_amount_per_hour=25
// in the token file: its transfers are accepted up to 25 in the hour, then 429 with Retry-After
// and a reason naming the token's limit (26 alone: 422), while the token "free" is still
// accepted; the per-token budget metric says what is left; after kill -9 and a restart on the
// same data directory "capped" is still refused (its hour rebuilt from the token names in the
// ACCEPT records) and "free" still accepted; a SIGHUP reload that adds a token keeps "capped"'s
// budget; a token "daily" with max_amount_per_day=12 takes 10, is refused 5 more with 429
// naming its day (13 alone: 422), and after kill -9 and the restart still has 2 left. A fifth
// nearftd with --max-amount-per-day 2000 accepts 1000 + 1000 and answers the
// next 1000 with 429 naming max_amount_per_day; after kill -9 and a restart it still does (the
// day rebuilt from the log, its remaining-budget metric 0), and nearsim applies exactly the two;
// --max-amount-per-day with --retention-hours 12 is refused at start. No count that depends on
// the machine's speed is asserted.
// Usage: node security_limits.mjs NEARSIM NEARFTD [NEARFT] (NEARFT defaults to nearftd's directory)
import { startSim, startDaemon, request, waitFor, check, report, keepOrClean,
         refusedAtStart } from './lib/harness.mjs';
import { metrics, waitAllFinal, checkExactlyOnce } from './faults_lib.mjs';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';

const [nearsim, nearftd, nearftArg] = process.argv.slice(2);
const nearft = nearftArg || join(dirname(nearftd), 'nearft');
const SIGNER = 'distributor.test.near';
const CONTRACT = 'ft.test.near';
const run = `lim-${Date.now()}`;
const LIMITS = ['--max-amount-per-transfer', '1000', '--max-amount-per-hour', '3000',
  '--wait-timeout-ms', '20000'];

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const dataDir = join(sim.dir, 'data');
let d = await startDaemon(nearftd, sim, dataDir, LIMITS, { logFile: join(sim.dir, 'nearftd.log') });
let r2 = null;
let d4 = null;
let d5 = null;
let code = 1;
const absent = [];
const expected = [];
const ids = [];
const remaining = async (port) =>
  (await metrics(port)).get(`nearft_spend_budget_remaining{contract="${CONTRACT}"}`);
try {
  // 1. Receivers that are the signer or the contract: 422 before anything is accepted.
  let n = 0;
  for (const bad of [SIGNER, CONTRACT]) {
    const memo = () => { const m = `${run}-bad-${n++}`; absent.push(m); return m; };
    let r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: bad, amount: '1', memo: memo() });
    check(r.status === 422 && r.body.field === 'receiver_id' && /signer|contract/.test(r.body.reason),
      `native to ${bad}: 422 receiver_id: ${r.status} ${r.text}`);
    r = await request(d.port, 'POST', '/v1/transfers', { transfers: [
      { receiver_id: 'user-1.test.near', amount: '1', memo: memo() },
      { receiver_id: bad, amount: '1', memo: memo() }] });
    check(r.status === 422 && r.body.field === 'transfers[1].receiver_id',
      `bulk with ${bad}: 422 transfers[1].receiver_id, nothing accepted: ${r.status} ${r.text}`);
    r = await request(d.port, 'POST', '/send-ft', { receiverId: bad, amount: '1', memo: memo() });
    check(r.status === 422 && /^receiverId: /.test(r.body.error), `/send-ft to ${bad}: 422: ${r.status} ${r.text}`);
    r = await request(d.port, 'POST', '/transfer', { receiver_id: bad, amount: '1', memo: memo() });
    check(r.status === 422 && /^receiver_id: /.test(r.body.error), `/transfer to ${bad}: 422: ${r.status} ${r.text}`);
  }

  // 2. Over --max-amount-per-transfer.
  const big = `${run}-big`;
  absent.push(big);
  let r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1001', memo: big });
  check(r.status === 422 && r.body.field === 'amount' && /--max-amount-per-transfer 1000/.test(r.body.reason),
    `1001 over the per-transfer limit: 422 amount: ${r.status} ${r.text}`);
  check(await remaining(d.port) === 3000, 'nothing refused took budget');

  // 3. The hourly budget: 3 x 1000 accepted (one per API), the next 1 refused with 429.
  for (const [path, body] of [
    ['/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1000', memo: `${run}-ok-0` }],
    ['/send-ft', { receiverId: 'user-2.test.near', amount: '1000', memo: `${run}-ok-1` }],
    ['/transfer', { receiver_id: 'user-3.test.near', amount: '1000', memo: `${run}-ok-2` }]]) {
    r = await request(d.port, 'POST', path, body);
    check(r.status === 200 || r.status === 202, `${path} 1000 within the hourly budget: ${r.status} ${r.text}`);
    expected.push(body.memo);
    const id = r.body && (r.body.id ?? r.body.jobId);
    if (id != null) ids.push(id);
  }
  check(ids.length === 2, `ids of the native and /send-ft transfers (/transfer answers with tx_hash only): ${ids}`);
  const over = `${run}-over-0`;
  absent.push(over);
  r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1', memo: over });
  const retry = Number(r.headers['retry-after']);
  check(r.status === 429 && r.body.limit === 'max_amount_per_hour' && retry >= 1 && retry <= 3600 &&
    /--max-amount-per-hour 3000/.test(r.body.reason), `over the hourly budget: 429 + Retry-After: ${r.status} ${retry} ${r.text}`);
  check(await remaining(d.port) === 0, 'remaining budget 0');
  const m = await metrics(d.port);
  check(m.get('nearft_ingest_limit_refusals_total{reason="receiver_signer"}') === 4 &&
    m.get('nearft_ingest_limit_refusals_total{reason="receiver_contract"}') === 4 &&
    m.get('nearft_ingest_limit_refusals_total{reason="max_amount_per_transfer"}') === 1 &&
    m.get('nearft_ingest_limit_refusals_total{reason="max_amount_per_hour"}') === 1,
  'refusals counted by reason');

  // 4. kill -9 and restart on the same log: the hour is rebuilt from the ACCEPT records.
  await d.kill();
  d = await startDaemon(nearftd, sim, dataDir, LIMITS, { logFile: join(sim.dir, 'nearftd.log') });
  check(await remaining(d.port) === 0, 'after kill -9 and restart the remaining budget is still 0');
  const over2 = `${run}-over-1`;
  absent.push(over2);
  r = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-1.test.near', amount: '1', memo: over2 });
  check(r.status === 429 && Number(r.headers['retry-after']) >= 1 && r.body.retryAfterMs >= 1000,
    `after restart still 429 (/send-ft shape): ${r.status} ${r.text}`);
  await waitAllFinal(d.port, ids, 'accepted transfers');
  await checkExactlyOnce(sim.port, expected, absent, 'spend limits');

  // 5. Rate limit: 2/s, burst 3, one bucket for the client address 127.0.0.1.
  r2 = await startDaemon(nearftd, sim, join(sim.dir, 'data-rate'),
    ['--rate-limit', '2', '--rate-burst', '3'], { logFile: join(sim.dir, 'nearftd-rate.log') });
  const answers = await Promise.all(Array.from({ length: 20 },
    () => request(r2.port, 'GET', '/v1/transfers/1')));
  const limited = answers.filter((a) => a.status === 429);
  check(limited.length >= 1, `at least one 429 among 20 requests at once: ${limited.length}`);
  check(answers.length - limited.length >= 3, `at least the burst (3) served: ${answers.length - limited.length}`);
  check(limited.every((a) => Number(a.headers['retry-after']) >= 1 && a.body.limit === 'rate_limit' &&
    /--rate-limit 2/.test(a.body.reason)), 'each 429 has Retry-After and names --rate-limit');
  const healths = await Promise.all(Array.from({ length: 10 }, () => request(r2.port, 'GET', '/health')));
  check(healths.every((a) => a.status === 200), `/health is never rate limited: ${healths.map((a) => a.status)}`);
  // 5b. The global cap: --rate-limit-global 3 (a burst of 3) and no per-client limit; 20 requests
  // at once from two client addresses share one bucket: what is served is bounded by the burst
  // plus 3 a second of the time it took, and /health and /metrics are never limited.
  const rg = await startDaemon(nearftd, sim, join(sim.dir, 'data-rate-global'),
    ['--rate-limit-global', '3'], { logFile: join(sim.dir, 'nearftd-rate-global.log') });
  try {
    const from = (localAddress) => new Promise((resolve, reject) => {
      const q = http.request({ host: '127.0.0.1', port: rg.port, path: '/v1/transfers/1', localAddress,
        agent: false }, (res) => {
        let text = '';
        res.on('data', (c) => { text += c; });
        res.on('end', () => { let body; try { body = JSON.parse(text); } catch {} resolve({ status: res.statusCode, headers: res.headers, body }); });
      });
      q.on('error', reject);
      q.end();
    });
    const t0 = Date.now();
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => from(i % 2 ? '127.0.0.2' : '127.0.0.1')));
    const elapsed = (Date.now() - t0) / 1000;
    const glim = all.filter((a) => a.status === 429);
    const served = all.length - glim.length;
    check(glim.length >= 1 && served >= 3 && served <= 3 + Math.ceil(3 * elapsed) + 1,
      `global cap: ${served} of 20 from two addresses served in ${elapsed.toFixed(2)} s (burst 3, 3/s), ${glim.length} got 429`);
    check(glim.every((a) => Number(a.headers['retry-after']) >= 1 && a.body?.limit === 'rate_limit_global' &&
      /--rate-limit-global 3 requests\/s of all clients together/.test(a.body?.reason)),
      'each 429 has Retry-After and names --rate-limit-global');
    const exempt = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      request(rg.port, 'GET', i % 2 ? '/health' : '/metrics')));
    check(exempt.every((a) => a.status === 200), `/health and /metrics are never limited: ${exempt.map((a) => a.status)}`);
    const m = await metrics(rg.port);
    check(m.get('nearft_ingest_limit_refusals_total{reason="rate_limit_global"}') >= glim.length,
      `refusals counted: ${m.get('nearft_ingest_limit_refusals_total{reason="rate_limit_global"}')}`);
  } finally {
    await rg.stop();
  }
  // 6. The budget under concurrency: 60 requests of 7 at once against 100, spread over both
  // ingest threads: exactly 14 accepted (98), the other 46 refused with 429, and nearsim applies
  // exactly the 14.
  const r3 = await startDaemon(nearftd, sim, join(sim.dir, 'data-race'),
    ['--max-amount-per-hour', '100', '--ingest-threads', '2'], { logFile: join(sim.dir, 'nearftd-race.log') });
  try {
    const race = await Promise.all(Array.from({ length: 60 }, (_, i) =>
      request(r3.port, 'POST', '/v1/transfers', { receiver_id: 'user-4.test.near', amount: '7', memo: `${run}-race-${i}` })
        .then((a) => ({ ...a, memo: `${run}-race-${i}` }))));
    const ok = race.filter((a) => a.status === 202);
    const refused = race.filter((a) => a.status === 429);
    check(ok.length === 14 && refused.length === 46,
      `60 concurrent requests of 7 against 100: ${ok.length} accepted (want 14), ${refused.length} refused (want 46)`);
    check(await remaining(r3.port) === 2, 'remaining budget 2 after the race');
    await waitAllFinal(r3.port, ok.map((a) => a.body.id), 'raced transfers');
    await checkExactlyOnce(sim.port, [...expected, ...ok.map((a) => a.memo)],
      [...absent, ...refused.map((a) => a.memo)], 'budget under concurrency');
  } finally {
    await r3.stop();
  }

  // 7. A token's own hourly budget: "capped" has max_amount_per_hour=25, "free" none; the global
  // --max-amount-per-hour 1000 applies to both as well.
  const tokFile = join(sim.dir, 'tokens');
  const addToken = (name, scopes) => execFileSync(nearft, ['auth', 'add', '--file', tokFile,
    '--name', name, '--scopes', scopes]).toString().trim();
  const tCapped = addToken('capped', 'transfer,read');
  const tFree = addToken('free', 'transfer,read');
  const tScraper = addToken('scraper', 'metrics');
  const tDaily = addToken('daily', 'transfer,read');
  // `nearft auth add` writes lines without options: append the budgets to their lines.
  writeFileSync(tokFile, readFileSync(tokFile, 'utf8').replace(/^(capped .*)$/m, '$1 max_amount_per_hour=25')
    .replace(/^(daily .*)$/m, '$1 max_amount_per_day=12'));
  const TOK_ARGS = ['--auth-tokens', tokFile, '--max-amount-per-hour', '1000', '--wait-timeout-ms', '20000'];
  const tokData = join(sim.dir, 'data-tok');
  const tokLog = join(sim.dir, 'nearftd-tok.log');
  const as = (tok) => ({ headers: { authorization: `Bearer ${tok}` } });
  const tokMetrics = (port) => metrics(port, as(tScraper));
  const tokRemaining = async (port, name) =>
    (await tokMetrics(port)).get(`nearft_spend_budget_remaining{contract="${CONTRACT}",token="${name}"}`);
  const tokIds = [];
  const tokOk = [];
  const send = async (port, tok, path, amount, tag) => {
    const memo = `${run}-tok-${tag}`;
    const body = path === '/send-ft' ? { receiverId: 'user-5.test.near', amount: String(amount), memo }
      : { receiver_id: 'user-5.test.near', amount: String(amount), memo };
    const a = await request(port, 'POST', path, body, as(tok));
    if (a.status === 200 || a.status === 202) {
      tokOk.push(memo);
      const id = a.body && (a.body.id ?? a.body.jobId);
      if (id != null) tokIds.push(id);
    } else {
      absent.push(memo);
    }
    return a;
  };
  const cappedRefused = (a) => a.status === 429 && Number(a.headers['retry-after']) >= 1 &&
    a.body.limit === 'max_amount_per_hour' && /max_amount_per_hour 25 of the token capped/.test(a.body.reason);
  d4 = await startDaemon(nearftd, sim, tokData, TOK_ARGS, { logFile: tokLog });
  check(await tokRemaining(d4.port, 'capped') === 25, 'capped: 25 left at start');
  check((await tokMetrics(d4.port)).get(`nearft_spend_budget_limit{contract="${CONTRACT}",token="capped"}`) === 25,
    'capped: its limit in nearft_spend_budget_limit');
  check(!(await tokMetrics(d4.port)).has(`nearft_spend_budget_remaining{contract="${CONTRACT}",token="free"}`),
    'free: no per-token budget sample');
  r = await send(d4.port, tCapped, '/v1/transfers', 10, 'c0');
  check(r.status === 202, `capped 10 of 25: ${r.status} ${r.text}`);
  r = await send(d4.port, tCapped, '/send-ft', 10, 'c1');
  check(r.status === 200 || r.status === 202, `capped 10 more (/send-ft): ${r.status} ${r.text}`);
  r = await send(d4.port, tCapped, '/v1/transfers', 10, 'c2');
  check(cappedRefused(r), `capped over its own hour: 429 + Retry-After naming the token: ${r.status} ${r.text}`);
  r = await send(d4.port, tCapped, '/v1/transfers', 26, 'c3');
  check(r.status === 422 && r.body.field === 'amount' &&
    /max_amount_per_hour 25 of the token capped by itself/.test(r.body.reason), `capped 26 alone: 422: ${r.status} ${r.text}`);
  r = await send(d4.port, tFree, '/v1/transfers', 10, 'f0');
  check(r.status === 202, `free is not held to capped's budget: ${r.status} ${r.text}`);
  check(await tokRemaining(d4.port, 'capped') === 5, 'capped: 5 left');
  check((await tokMetrics(d4.port)).get(`nearft_spend_budget_remaining{contract="${CONTRACT}"}`) === 970,
    'the global budget counts both tokens: 970 left');
  // "daily" has max_amount_per_day=12: 10 fit, 5 more do not (429 naming its day), 13 alone 422.
  const dayLeftTok = async (port) =>
    (await tokMetrics(port)).get(`nearft_spend_day_budget_remaining{contract="${CONTRACT}",token="daily"}`);
  const dailyRefused = (a) => a.status === 429 && Number(a.headers['retry-after']) > 86000 &&
    a.body.limit === 'max_amount_per_day' && /max_amount_per_day 12 of the token daily/.test(a.body.reason);
  check(await dayLeftTok(d4.port) === 12, 'daily: 12 left at start');
  r = await send(d4.port, tDaily, '/v1/transfers', 10, 'd0');
  check(r.status === 202, `daily 10 of 12: ${r.status} ${r.text}`);
  r = await send(d4.port, tDaily, '/v1/transfers', 5, 'd1');
  check(dailyRefused(r), `daily over its own day: 429 naming the token's day: ${r.status} ${r.text}`);
  r = await send(d4.port, tDaily, '/v1/transfers', 13, 'd2');
  check(r.status === 422 && /max_amount_per_day 12 of the token daily by itself/.test(r.body.reason),
    `daily 13 alone: 422: ${r.status} ${r.text}`);
  check(await dayLeftTok(d4.port) === 2, 'daily: 2 left');
  // kill -9 and restart: the ACCEPT records name the token, so its hour comes back.
  await d4.kill();
  d4 = await startDaemon(nearftd, sim, tokData, TOK_ARGS, { logFile: tokLog });
  check(await tokRemaining(d4.port, 'capped') === 5, 'after kill -9 and restart capped still has 5 left');
  check(await dayLeftTok(d4.port) === 2, 'after kill -9 and restart daily still has 2 left of its day');
  r = await send(d4.port, tDaily, '/v1/transfers', 5, 'd3');
  check(dailyRefused(r), `after restart daily is still refused: ${r.status} ${r.text}`);
  r = await send(d4.port, tCapped, '/v1/transfers', 10, 'c4');
  check(cappedRefused(r), `after restart capped is still refused: ${r.status} ${r.text}`);
  r = await send(d4.port, tCapped, '/send-ft', 10, 'c5');
  check(r.status === 429 && Number(r.headers['retry-after']) >= 1 && /max_amount_per_hour 25 of the token capped/.test(r.body.details),
    `after restart capped /send-ft: 429 in the Node shape: ${r.status} ${r.text}`);
  r = await send(d4.port, tFree, '/transfer', 10, 'f1');
  check(r.status === 200, `after restart free is accepted: ${r.status} ${r.text}`);
  // SIGHUP with one more token (with a budget of its own): capped keeps what it spent.
  execFileSync(nearft, ['auth', 'add', '--file', tokFile, '--name', 'later', '--scopes', 'transfer']);
  writeFileSync(tokFile, readFileSync(tokFile, 'utf8').replace(/^(later .*)$/m, '$1 max_amount_per_hour=7'));
  d4.proc.kill('SIGHUP');
  await waitFor(async () => (await tokRemaining(d4.port, 'later')) === 7, 'the reloaded token file in use', 30000);
  check(await tokRemaining(d4.port, 'capped') === 5, 'after SIGHUP capped still has 5 left');
  r = await send(d4.port, tCapped, '/v1/transfers', 5, 'c6');
  check(r.status === 202, `after SIGHUP capped may take its last 5: ${r.status} ${r.text}`);
  r = await send(d4.port, tCapped, '/v1/transfers', 1, 'c7');
  check(cappedRefused(r), `then nothing more: ${r.status} ${r.text}`);
  await waitFor(async () => {
    const st = await Promise.all(tokIds.map((id) => request(d4.port, 'GET', `/v1/transfers/${id}`, undefined, as(tFree))));
    return st.every((a) => a.body && (a.body.status === 'executed' || a.body.status === 'failed'));
  }, 'the per-token transfers final', 120000);
  await checkExactlyOnce(sim.port, [...expected, ...tokOk], absent, 'per-token budget');
  await refusedAtStart(nearftd, sim, tokLog, 'data-tok-short', ['--auth-tokens', tokFile, '--retention-hours', '12'],
    /a token has max_amount_per_day, which needs --retention-hours of at least 24/, 'a token\'s day needs a day of retention');

  // 8. The daily budget: 2000 in any 24 hours, with the hourly one above it.
  const dayData = join(sim.dir, 'data-day');
  const dayLog = join(sim.dir, 'nearftd-day.log');
  const DAY_ARGS = ['--max-amount-per-day', '2000', '--max-amount-per-hour', '5000', '--wait-timeout-ms', '20000'];
  const dayLeft = async (port) =>
    (await metrics(port)).get(`nearft_spend_day_budget_remaining{contract="${CONTRACT}"}`);
  d5 = await startDaemon(nearftd, sim, dayData, DAY_ARGS, { logFile: dayLog });
  const dayOk = [];
  const dayIds = [];
  for (const i of [0, 1]) {
    const memo = `${run}-day-${i}`;
    r = await request(d5.port, 'POST', '/v1/transfers', { receiver_id: 'user-4.test.near', amount: '1000', memo });
    check(r.status === 202, `day: 1000 #${i} accepted: ${r.status} ${r.text}`);
    dayOk.push(memo);
    dayIds.push(r.body.id);
  }
  check(await dayLeft(d5.port) === 0, 'day: nothing left of 2000');
  const dayOver = (a) => a.status === 429 && a.body.limit === 'max_amount_per_day' &&
    Number(a.headers['retry-after']) > 86000 && /over --max-amount-per-day 2000/.test(a.body.reason);
  absent.push(`${run}-day-over-0`, `${run}-day-over-1`);
  r = await request(d5.port, 'POST', '/v1/transfers', { receiver_id: 'user-4.test.near', amount: '1000', memo: `${run}-day-over-0` });
  check(dayOver(r), `day: the third 1000 gets 429 naming max_amount_per_day: ${r.status} ${r.headers['retry-after']} ${r.text}`);
  check((await metrics(d5.port)).get(`nearft_spend_budget_remaining{contract="${CONTRACT}"}`) === 3000,
    'day: the hour gave back what it took for the refused request');
  await d5.kill();
  d5 = await startDaemon(nearftd, sim, dayData, DAY_ARGS, { logFile: dayLog });
  check(await dayLeft(d5.port) === 0, 'day: after kill -9 and restart nothing left (rebuilt from the log)');
  r = await request(d5.port, 'POST', '/v1/transfers', { receiver_id: 'user-4.test.near', amount: '1000', memo: `${run}-day-over-1` });
  check(dayOver(r), `day: after restart still 429: ${r.status} ${r.text}`);
  await waitAllFinal(d5.port, dayIds, 'the day-budget transfers');
  await checkExactlyOnce(sim.port, dayOk, absent, 'daily budget');
  await refusedAtStart(nearftd, sim, dayLog, 'data-day-short', ['--max-amount-per-day', '1', '--retention-hours', '12'],
    /--max-amount-per-day needs --retention-hours of at least 24/, 'day: a day of retention is required');
  code = report('security_limits');
} finally {
  if (r2) await r2.stop();
  if (d4) await d4.stop();
  if (d5) await d5.stop();
  await d.stop();
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code);
