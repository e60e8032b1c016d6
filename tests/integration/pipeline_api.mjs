// pipeline_api: nearftd end to end on nearsim through every API shape (native single and bulk,
// the Node /send-ft drop-in single and bulk, the Rust /transfer drop-in), with unique memos; then
// nearsim's audit must show each transfer applied exactly once and the balances must match.
// Also: idempotency keys, field-naming 400s, status routes. Usage:
//   node pipeline_api.mjs NEARSIM NEARFTD [PER_SHAPE=10000]
import { startSim, startDaemon, request, pool, waitFor, waitCount, audit, appliedMemos, rpc, check, report,
         keepOrClean, TRANSFER_ID } from './lib/harness.mjs';
import { join } from 'node:path';

const [nearsim, nearftd, perShapeArg] = process.argv.slice(2);
const PER = Number(perShapeArg || 10000);
const run = `r${Date.now() % 100000}`;

async function ftBalance(simPort, account) {
  const args = Buffer.from(JSON.stringify({ account_id: account })).toString('base64');
  const r = await rpc(simPort, 'query', { request_type: 'call_function', finality: 'optimistic',
    account_id: 'ft.test.near', method_name: 'ft_balance_of', args_base64: args });
  return BigInt(JSON.parse(Buffer.from(r.body.result.result).toString('utf8')));
}

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '8', '--chunk-gas', '100P',
  '--chunk-tx-gas', '100P', '--wait-timeout-ms', '5000']);
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--inflight-per-key', '16',
  '--batch-linger-ms', '10', '--wait-timeout-ms', '30000'], { logFile: join(sim.dir, 'nearftd.log') });
let code = 1;
try {
  const before = await ftBalance(sim.port, 'distributor.test.near');
  const expected = new Map(); // memo -> amount
  const recv = (i) => `user-${i % 1000}.test.near`;
  const amt = (i) => String(1 + (i % 97));

  // 1. native single
  await pool(PER, 64, async (i) => {
    const memo = `${run}-ns-${i}`;
    const r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: recv(i), amount: amt(i), memo });
    if (r.status === 202 && TRANSFER_ID.test(r.body.id) && r.body.status) expected.set(memo, amt(i));
    else check(false, `native single ${i}: ${r.status} ${r.text}`);
  });
  // 2. native bulk (1000 per request)
  for (let base = 0; base < PER; base += 1000) {
    const n = Math.min(1000, PER - base);
    const transfers = Array.from({ length: n }, (_, k) => ({ receiver_id: recv(base + k),
      amount: amt(base + k), memo: `${run}-nb-${base + k}` }));
    const r = await request(d.port, 'POST', '/v1/transfers', { transfers });
    check(r.status === 202 && r.body.transfers && r.body.transfers.length === n,
          `native bulk status ${r.status} ${r.text.slice(0, 200)}`);
    if (r.status === 202) transfers.forEach((t) => expected.set(t.memo, t.amount));
  }
  // 3. /send-ft single (waits until submitted) and bulk (100 per request)
  const half = Math.floor(PER / 2);
  await pool(half, 128, async (i) => {
    const memo = `${run}-sf-${i}`;
    const r = await request(d.port, 'POST', '/send-ft', { receiverId: recv(i), amount: amt(i), memo });
    if (r.status === 200 && r.body.success === true && r.body.transactionHash && r.body.jobId)
      expected.set(memo, amt(i));
    else check(false, `send-ft single ${i}: ${r.status} ${r.text}`);
  });
  await pool(Math.ceil((PER - half) / 100), 8, async (b) => {
    const n = Math.min(100, PER - half - b * 100);
    const transfers = Array.from({ length: n }, (_, k) => ({ receiverId: recv(b * 100 + k),
      amount: amt(b * 100 + k), memo: `${run}-sfb-${b * 100 + k}` }));
    const r = await request(d.port, 'POST', '/send-ft', { transfers });
    const ok = r.status === 200 && r.body.success === true && Array.isArray(r.body.jobIds) &&
      r.body.jobIds.length === n && Array.isArray(r.body.results) && r.body.transfers === n;
    check(ok, `send-ft bulk ${b}: ${r.status} ${r.text.slice(0, 200)}`);
    if (ok) transfers.forEach((t) => expected.set(t.memo, t.amount));
  });
  // 4. /transfer (waits until executed, answers {tx_hash})
  await pool(PER, 256, async (i) => {
    const memo = `${run}-tr-${i}`;
    const r = await request(d.port, 'POST', '/transfer', { receiver_id: recv(i), amount: amt(i), memo });
    if (r.status === 200 && typeof r.body.tx_hash === 'string' && r.body.tx_hash.length >= 32)
      expected.set(memo, amt(i));
    else check(false, `/transfer ${i}: ${r.status} ${r.text}`);
  });
  const byShape = {};
  for (const m of expected.keys()) {
    const k = m.split('-')[1];
    byShape[k] = (byShape[k] || 0) + 1;
  }
  console.log('acknowledged by shape', JSON.stringify(byShape));
  // native single + native bulk + send-ft (single and bulk halves) + /transfer
  check(expected.size === 4 * PER, `all ${4 * PER} transfers acknowledged (got ${expected.size})`);

  // 5. bad input names the field; idempotency
  let r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'Bad..Name', amount: '1' });
  check(r.status === 400 && r.body.field === 'receiver_id', `400 names receiver_id: ${r.text}`);
  r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '1.5' });
  check(r.status === 400 && r.body.field === 'amount', `400 names amount: ${r.text}`);
  r = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-1.test.near', amount: '0' });
  check(r.status === 400 && r.body.field === 'amount', `amount 0 refused: ${r.text}`);
  r = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-1.test.near' });
  check(r.status === 400 && typeof r.body.error === 'string', `send-ft 400 {error}: ${r.text}`);
  const idem = { 'Idempotency-Key': `${run}-idem-1` };
  const m1 = `${run}-idem-memo`;
  const a = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-5.test.near', amount: '11', memo: m1 }, { headers: idem });
  const b = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-5.test.near', amount: '11', memo: m1 }, { headers: idem });
  const c = await request(d.port, 'POST', '/v1/transfers', { receiver_id: 'user-5.test.near', amount: '12', memo: m1 }, { headers: idem });
  check(a.status === 202 && b.body && a.body && b.body.id === a.body.id, `idempotent repeat returns the original: ${a.text} / ${b.text}`);
  check(c.status === 422, `same key, different body -> 422: ${c.status} ${c.text}`);
  if (a.status === 202) expected.set(m1, '11');
  // The same key on the drop-in routes: a repeat answers with the original, never pays again.
  const m2 = `${run}-idem-sendft`, idem2 = { 'Idempotency-Key': `${run}-idem-2` };
  const s1 = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-6.test.near', amount: '13', memo: m2 }, { headers: idem2 });
  const s2 = await request(d.port, 'POST', '/send-ft', { receiverId: 'user-6.test.near', amount: '13', memo: m2 }, { headers: idem2 });
  check([200, 202].includes(s1.status) && s1.body.success === true, `send-ft with a key: ${s1.status} ${s1.text}`);
  check([200, 202].includes(s2.status) && s2.body.jobId === s1.body.jobId && s2.body.duplicate === true,
        `send-ft repeat answers the original: ${s1.text} / ${s2.text}`);
  if (s1.body && s1.body.success) expected.set(m2, '13');
  const m3 = `${run}-idem-rust`, idem3 = { 'Idempotency-Key': `${run}-idem-3` };
  const t1 = await request(d.port, 'POST', '/transfer', { receiver_id: 'user-7.test.near', amount: '14', memo: m3 }, { headers: idem3 });
  const t2 = await request(d.port, 'POST', '/transfer', { receiver_id: 'user-7.test.near', amount: '14', memo: m3 }, { headers: idem3 });
  check(t1.status === 200 && t2.status === 200 && t2.body.tx_hash === t1.body.tx_hash,
        `/transfer repeat answers the original's tx_hash: ${t1.text} / ${t2.text}`);
  if (t1.status === 200) expected.set(m3, '14');

  // 6. everything lands exactly once
  const total = expected.size;
  await waitCount(async () => (await audit(sim.port)).transfers_applied, total, 'all transfers applied', undefined, 500);
  const memos = await appliedMemos(sim.port);
  let once = 0, dup = 0, missing = 0;
  for (const m of expected.keys()) {
    const n = memos.get(m) || 0;
    if (n === 1) once++; else if (n === 0) missing++; else dup++;
  }
  check(once === total && dup === 0 && missing === 0, `exactly once: once=${once} dup=${dup} missing=${missing} of ${total}`);
  const au = await audit(sim.port);
  check(au.duplicate_memo_count === 0 && au.supply_conserved === true, `audit clean: ${JSON.stringify(au).slice(0, 300)}`);
  let sum = 0n;
  for (const v of expected.values()) sum += BigInt(v);
  const after = await ftBalance(sim.port, 'distributor.test.near');
  check(before - after === sum, `signer FT balance dropped by exactly the sum: ${before - after} vs ${sum}`);

  // 7. status routes (nearsim applies a transfer before nearftd reads the outcome: wait for it)
  await waitFor(async () => (await request(d.port, 'GET', `/v1/transfers/${a.body.id}`)).body?.status === 'executed',
    'the first transfer read as executed');
  const st = await request(d.port, 'GET', `/v1/transfers/${a.body.id}`);
  check(st.status === 200 && st.body.status === 'executed' && st.body.tx_hash && st.body.memo === m1,
        `GET /v1/transfers/{id}: ${st.text}`);
  const tx = await request(d.port, 'GET', `/v1/tx/${st.body.tx_hash}`);
  check(tx.status === 200 && Array.isArray(tx.body.transfers) &&
        tx.body.transfers.some((t) => String(t.id) === String(a.body.id)), `GET /v1/tx/{hash}: ${tx.text.slice(0, 300)}`);
  const nf = await request(d.port, 'GET', '/transfer/999999999');
  check(nf.status === 404 && nf.body.error === 'Job not found', `send-ft 404 shape: ${nf.text}`);
  const met = await request(d.port, 'GET', '/metrics');
  check(met.status === 200 && /nearft_transfers_total\{status="executed"\} \d+/.test(met.text), 'metrics exposition');
  const h = await request(d.port, 'GET', '/health');
  check(h.status === 200 && h.body.status === 'ok', `health: ${h.text}`);
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  check((await d.stop()) === 0, 'nearftd exits 0 on SIGTERM');
  await sim.stop();
  keepOrClean(sim.dir, code);
}
process.exit(code === 0 ? report('pipeline_api') : 1);
