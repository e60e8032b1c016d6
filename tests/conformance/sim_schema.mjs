// nearsim against NEAR's own RPC schemas: starts nearsim on a free 127.0.0.1 port, calls every
// method it serves (block, chunk, status, gas_price, query with each request_type, tx,
// EXPERIMENTAL_tx_status, send_tx at every wait_until, broadcast_tx_*, EXPERIMENTAL_receipt), the
// error envelopes (request validation, handler errors, every INVALID_TRANSACTION nearsim
// produces), every fault /sim/faults injects and the answers of its lagging listener
// (--lagging-listen, a node --lag-blocks behind), and checks each JSON-RPC answer with
// rpc_schema.mjs (the zod schemas of @near-js/jsonrpc-types 1.4.0). A failure names the answer and
// the path of the field. Waits key off chain state (polled), never off fixed sleeps.
// Usage: node sim_schema.mjs <nearsim>
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyPair, KeyPairSigner, actions, baseDecode, baseEncode, createTransaction, encodeTransaction } from 'near-api-js';
import { NearRpcClient, block as cBlock, chunk as cChunk, experimentalReceipt as cReceipt, experimentalTxStatus as cTxStatus,
  gasPrice as cGasPrice, query as cQuery, sendTx as cSendTx, status as cStatus, tx as cTx } from '@near-js/jsonrpc-client';
import { check, startNearsim, tally } from './lib.mjs';
import { checkAnswer } from './rpc_schema.mjs';

const NEARSIM = process.argv[2];
if (!NEARSIM) { console.error('usage: node sim_schema.mjs <path to nearsim>'); process.exit(2); }
const SIGNER = 'distributor.test.near';
const FT = 'ft.test.near';
const TGAS = 1000000000000n;

const dir = mkdtempSync(join(tmpdir(), 'nearsim-schema-'));
const LAG = 20;
const { sim, addr, lagAddr, killTimer } = await startNearsim(NEARSIM, ['--keys', '2', '--credentials-out', dir, '--block-ms', '50',
  '--receivers', '20', '--unregistered', '5', '--wait-timeout-ms', '1000', '--validity-blocks', '1000',
  '--lagging-listen', ':0', '--lag-blocks', String(LAG)], 'schema test', 240000);
const URL_ = `http://${addr}/`;
const LAG_URL = `http://${lagAddr}/`;

let rpcId = 0, answers = 0;
// rpc: one JSON-RPC call; the answer is checked against the schema under the label `what`.
// url: the lagging listener's LAG_URL instead of the live one.
async function rpc(what, method, params, { expect = 'result', url = URL_ } = {}) {
  const id = `s${++rpcId}`;
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }), signal: AbortSignal.timeout(30000) });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* reported below */ }
  answers++;
  check(json !== null, `${what}: answer is JSON`, text.slice(0, 200));
  if (json === null) return { status: res.status, json: null };
  const probs = checkAnswer(method, json, id);
  check(probs.length === 0, `${what} (${method}) matches NEAR's schema`, probs.join('; '));
  check(expect in json, `${what}: answer has ${expect}`, json);
  return { status: res.status, json, headers: res.headers };
}
async function raw(what, body) {
  const res = await fetch(URL_, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  const json = JSON.parse(await res.text());
  answers++;
  const probs = checkAnswer('status', json);
  check(probs.length === 0, `${what} matches NEAR's schema`, probs.join('; '));
  return { status: res.status, json };
}
async function faults(obj) {
  const r = await fetch(`http://${addr}/sim/faults`, { method: 'POST', body: JSON.stringify(obj) });
  check(r.status === 200, `POST /sim/faults ${JSON.stringify(obj)}`, await r.text());
}
async function head() {
  return (await (await fetch(URL_, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 'h', method: 'status', params: [] }) })).json()).result.sync_info.latest_block_height;
}
// waitBlocks: polls the head until n more blocks exist (bounded by the test's overall timer).
async function waitBlocks(n) {
  const target = (await head()) + n;
  while ((await head()) < target) await new Promise((r) => setTimeout(r, 20));
}

async function finish() {
  sim.kill('SIGTERM');
  const code = await new Promise((r) => sim.on('exit', (c) => r(c)));
  check(code === 0, 'nearsim exits 0 on SIGTERM', code);
  rmSync(dir, { recursive: true, force: true });
  clearTimeout(killTimer);
  console.log(`sim_schema: ${answers} answers checked against @near-js/jsonrpc-types 1.4.0`);
  console.log(`sim_schema: ${tally.passes} passed, ${tally.failures} failed`);
  process.exit(tally.failures ? 1 : 0);
}

try {
  // the answers tests/near/test_rpc_tolerant.c feeds nearftd's reader must be ones the schema accepts
  const tolerant = JSON.parse(readFileSync(new URL('../vectors/rpc_tolerant.json', import.meta.url), 'utf8'));
  for (const v of tolerant.vectors) {
    const p = checkAnswer(v.rpc_method, v.answer, '1', { nearcoreFields: false });
    check(p.length === 0, `rpc_tolerant.json "${v.name}" matches NEAR's schema`, p.join('; '));
  }
  check(tolerant.vectors.length >= 10, 'rpc_tolerant.json has its vectors', tolerant.vectors.length);

  const cred = JSON.parse(readFileSync(join(dir, `${SIGNER}.json`), 'utf8'));
  const kp = KeyPair.fromString(cred.private_key);
  const signer = new KeyPairSigner(kp);
  const viewKey = { request_type: 'view_access_key', finality: 'optimistic', account_id: SIGNER, public_key: cred.public_key };
  let nonce = BigInt((await rpc('view_access_key', 'query', viewKey)).json.result.nonce);
  async function finalHash() { return baseDecode((await rpc('block final', 'block', { finality: 'final' })).json.result.header.hash); }
  async function sign(acts, { n, blockHash, receiver = FT } = {}) {
    const useNonce = n !== undefined ? n : ++nonce;
    const tx = createTransaction(SIGNER, kp.getPublicKey(), receiver, useNonce, acts, blockHash || await finalHash());
    const { txHash, signedTransaction } = await signer.signTransaction(tx);
    const bytes = encodeTransaction(signedTransaction);
    return { hash: baseEncode(txHash), b64: Buffer.from(bytes).toString('base64'), bytes };
  }
  const enc = (o) => new TextEncoder().encode(JSON.stringify(o));
  const transfer = (to, amount, memo) => actions.functionCall('ft_transfer', enc({ receiver_id: to, amount: String(amount), memo }), 10n * TGAS, 1n);
  const cause = (r) => r.json?.error?.cause?.name;
  const invalid = (r) => r.json?.error?.data?.TxExecutionError?.InvalidTxError;

  // ---- chain views -------------------------------------------------------------------------------
  const st = await rpc('status', 'status', []);
  const genesis = st.json.result.sync_info.earliest_block_height;
  // nearcore's block times: ISO 8601 in UTC with nine fraction digits (time::OffsetDateTime)
  for (const k of ['latest_block_time', 'earliest_block_time']) {
    const t = st.json.result.sync_info[k];
    check(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/.test(t) && Math.abs(Date.parse(t) - Date.now()) < 3600e3, `status ${k} is nearcore's ISO 8601 form`, t);
  }
  for (const finality of ['optimistic', 'near-final', 'final']) await rpc(`block ${finality}`, 'block', { finality });
  const b = (await rpc('block by height', 'block', { block_id: genesis + 1 })).json.result;
  // the checker itself: a required field, an optional field nearcore sends, and a wrong type are
  // each reported with their path
  {
    const env = (result) => ({ jsonrpc: '2.0', id: 'x', result });
    const noRent = structuredClone(b); delete noRent.header.rent_paid;
    const noEndorse = structuredClone(b); delete noEndorse.header.chunk_endorsements;
    const numTime = structuredClone(st.json.result); numTime.sync_info.latest_block_time = 1;
    check(checkAnswer('block', env(noRent), 'x').some((p) => p.startsWith('result.header.rentPaid: expected string')), 'checker reports a missing required field');
    check(checkAnswer('block', env(noEndorse), 'x').some((p) => p.startsWith('result.header.chunkEndorsements: field missing')), 'checker reports a missing field nearcore sends');
    check(checkAnswer('status', env(numTime), 'x').some((p) => p.startsWith('result.syncInfo.latestBlockTime: expected string, got number')), 'checker reports a wrong type');
  }
  await rpc('block by hash', 'block', { block_id: b.header.hash });
  await rpc('block legacy array', 'block', [genesis]);
  check(cause(await rpc('unknown block', 'block', { block_id: 999999999 }, { expect: 'error' })) === 'UNKNOWN_BLOCK', 'UNKNOWN_BLOCK');
  check(cause(await rpc('block without params', 'block', {}, { expect: 'error' })) === 'PARSE_ERROR', 'block {} is a PARSE_ERROR');
  const ch = await rpc('chunk by hash', 'chunk', { chunk_id: b.chunks[0].chunk_hash });
  check(ch.json.result?.header?.chunk_hash === b.chunks[0].chunk_hash, 'chunk by chunk_id names its hash', ch.json.result?.header);
  await rpc('chunk by block height + shard', 'chunk', { block_id: genesis + 1, shard_id: 0 });
  await rpc('chunk by block hash + shard', 'chunk', { block_id: b.header.hash, shard_id: 0 });
  await rpc('chunk legacy array', 'chunk', [b.chunks[0].chunk_hash]);
  await rpc('chunk legacy [[block_id, shard_id]]', 'chunk', [[genesis + 1, 0]]);
  check(cause(await rpc('unknown chunk', 'chunk', { chunk_id: baseEncode(randomBytes(32)) }, { expect: 'error' })) === 'UNKNOWN_CHUNK', 'UNKNOWN_CHUNK');
  check(cause(await rpc('chunk of shard 7', 'chunk', { block_id: genesis + 1, shard_id: 7 }, { expect: 'error' })) === 'INVALID_SHARD_ID', 'INVALID_SHARD_ID');
  check(cause(await rpc('chunk of unknown block', 'chunk', { block_id: 999999999, shard_id: 0 }, { expect: 'error' })) === 'UNKNOWN_BLOCK', 'chunk: UNKNOWN_BLOCK');
  await rpc('gas_price [null]', 'gas_price', [null]);
  await rpc('gas_price [height]', 'gas_price', [genesis + 1]);
  await rpc('gas_price [hash]', 'gas_price', [b.header.hash]);
  await rpc('gas_price {block_id:null}', 'gas_price', { block_id: null });
  check(cause(await rpc('gas_price unknown block', 'gas_price', [999999999], { expect: 'error' })) === 'UNKNOWN_BLOCK', 'gas_price: UNKNOWN_BLOCK');

  // ---- query, each request_type ------------------------------------------------------------------
  await rpc('view_account', 'query', { request_type: 'view_account', finality: 'final', account_id: SIGNER });
  await rpc('view_account by block_id', 'query', { request_type: 'view_account', block_id: genesis + 1, account_id: FT });
  await rpc('view_access_key final', 'query', { ...viewKey, finality: 'final' });
  await rpc('view_access_key_list', 'query', { request_type: 'view_access_key_list', finality: 'final', account_id: SIGNER });
  for (const [m, a] of [['ft_balance_of', { account_id: SIGNER }], ['storage_balance_of', { account_id: 'user-1.test.near' }],
    ['storage_balance_of', { account_id: 'new-0.test.near' }], ['storage_balance_bounds', {}], ['ft_metadata', {}], ['ft_total_supply', {}]]) {
    await rpc(`call_function ${m}`, 'query', { request_type: 'call_function', finality: 'final', account_id: FT, method_name: m,
      args_base64: Buffer.from(JSON.stringify(a)).toString('base64') });
  }
  await rpc('view_code', 'query', { request_type: 'view_code', finality: 'final', account_id: FT });
  check(cause(await rpc('view_code of an account without code', 'query', { request_type: 'view_code', finality: 'final', account_id: 'user-1.test.near' }, { expect: 'error' })) === 'NO_CONTRACT_CODE', 'NO_CONTRACT_CODE');
  await rpc('view_state', 'query', { request_type: 'view_state', finality: 'final', account_id: 'user-1.test.near', prefix_base64: '' });
  check(cause(await rpc('view_state of the token', 'query', { request_type: 'view_state', finality: 'final', account_id: FT, prefix_base64: '' }, { expect: 'error' })) === 'TOO_LARGE_CONTRACT_STATE', 'TOO_LARGE_CONTRACT_STATE');
  // the legacy in-result errors (nearcore turns these two into a result with an `error` field)
  const lk = await rpc('unknown access key (legacy in-result error)', 'query', { ...viewKey, public_key: 'ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z' });
  check(typeof lk.json.result?.error === 'string', 'unknown access key: result.error', lk.json);
  const ce = await rpc('contract error (legacy in-result error)', 'query', { request_type: 'call_function', finality: 'final', account_id: FT,
    method_name: 'no_such_method', args_base64: '' });
  check(typeof ce.json.result?.error === 'string', 'contract error: result.error', ce.json);
  check(cause(await rpc('unknown account', 'query', { request_type: 'view_account', finality: 'final', account_id: 'nobody.test.near' }, { expect: 'error' })) === 'UNKNOWN_ACCOUNT', 'UNKNOWN_ACCOUNT');
  check(cause(await rpc('query unknown block', 'query', { request_type: 'view_account', block_id: 999999999, account_id: SIGNER }, { expect: 'error' })) === 'UNKNOWN_BLOCK', 'query: UNKNOWN_BLOCK');
  check(cause(await rpc('query without request_type', 'query', { finality: 'final', account_id: SIGNER }, { expect: 'error' })) === 'PARSE_ERROR', 'query: PARSE_ERROR');

  // ---- transactions at every wait_until, and their lookups ----------------------------------------
  const levels = ['NONE', 'INCLUDED', 'EXECUTED_OPTIMISTIC', 'INCLUDED_FINAL', 'EXECUTED', 'FINAL'];
  const sent = [];
  for (const level of levels) {
    const t = await sign([transfer('user-1.test.near', 1, `wu-${level}`), transfer('user-2.test.near', 2, `wu2-${level}`)]);
    await rpc(`send_tx ${level}`, 'send_tx', { signed_tx_base64: t.b64, wait_until: level });
    sent.push(t);
  }
  const last = sent[sent.length - 1];
  for (const level of levels.slice(1)) {
    await rpc(`tx ${level}`, 'tx', { tx_hash: last.hash, sender_account_id: SIGNER, wait_until: level });
    await rpc(`EXPERIMENTAL_tx_status ${level}`, 'EXPERIMENTAL_tx_status', { tx_hash: last.hash, sender_account_id: SIGNER, wait_until: level });
  }
  await rpc('tx legacy array', 'tx', [last.hash, SIGNER]);
  await rpc('tx by signed_tx_base64', 'tx', { signed_tx_base64: last.b64, wait_until: 'FINAL' });
  const txNone = await rpc('tx NONE (known)', 'tx', { tx_hash: last.hash, sender_account_id: SIGNER, wait_until: 'NONE' });
  check(txNone.json.result?.final_execution_status === 'FINAL', 'tx NONE of a final tx says FINAL', txNone.json.result?.final_execution_status);
  const asyncTx = await sign([transfer('user-3.test.near', 3, 'async')]);
  await rpc('broadcast_tx_async', 'broadcast_tx_async', [asyncTx.b64]);
  await rpc('broadcast_tx_commit', 'broadcast_tx_commit', [(await sign([transfer('user-3.test.near', 3, 'commit')])).b64]);
  await rpc('broadcast_tx_commit object form', 'broadcast_tx_commit', { signed_tx_base64: (await sign([transfer('user-3.test.near', 3, 'commit2')])).b64 });
  // a failed receipt (unregistered receiver) and a storage_deposit: ActionError and contract refunds
  const failed = await sign([transfer('user-4.test.near', 4, 'ok-0'), transfer('new-1.test.near', 4, 'unreg')]);
  const rf = await rpc('send_tx failed receipt FINAL', 'send_tx', { signed_tx_base64: failed.b64, wait_until: 'FINAL' });
  check(rf.json.result?.status?.Failure?.ActionError?.index === 1, 'failed receipt: ActionError index 1', rf.json.result?.status);
  await rpc('EXPERIMENTAL_tx_status failed', 'EXPERIMENTAL_tx_status', { tx_hash: failed.hash, sender_account_id: SIGNER, wait_until: 'FINAL' });
  const sd = await sign([actions.functionCall('storage_deposit', enc({ account_id: 'new-2.test.near' }), 10n * TGAS, 10n ** 22n),
    transfer('new-2.test.near', 5, 'sd')]);
  await rpc('send_tx storage_deposit FINAL', 'send_tx', { signed_tx_base64: sd.b64, wait_until: 'FINAL' });
  const ex = await rpc('EXPERIMENTAL_tx_status storage_deposit', 'EXPERIMENTAL_tx_status', { tx_hash: sd.hash, sender_account_id: SIGNER, wait_until: 'FINAL' });
  const near = await sign([actions.transfer(10n ** 21n)], { receiver: 'user-5.test.near' });
  await rpc('send_tx NEAR transfer FINAL', 'send_tx', { signed_tx_base64: near.b64, wait_until: 'FINAL' });

  // ---- EXPERIMENTAL_receipt: every receipt of the outcomes above, then an unknown one -----------
  const ids = new Set();
  for (const r of [rf.json.result, ex.json.result]) for (const o of r?.receipts_outcome || []) ids.add(o.id);
  check(ids.size >= 4, 'outcomes name their receipts', ids.size);
  for (const id of ids) {
    const r = await rpc(`EXPERIMENTAL_receipt ${id.slice(0, 6)}`, 'EXPERIMENTAL_receipt', { receipt_id: id });
    check(r.json.result?.receipt_id === id, 'EXPERIMENTAL_receipt returns the receipt asked for', r.json.result?.receipt_id);
  }
  check(cause(await rpc('unknown receipt', 'EXPERIMENTAL_receipt', { receipt_id: baseEncode(randomBytes(32)) }, { expect: 'error' })) === 'UNKNOWN_RECEIPT', 'UNKNOWN_RECEIPT');
  await waitBlocks(2);
  const cb = (await rpc('block of the storage_deposit', 'block', { block_id: ex.json.result.transaction_outcome.block_hash })).json.result;
  const cc = await rpc('chunk with transactions', 'chunk', { chunk_id: cb.chunks[0].chunk_hash });
  check((cc.json.result?.transactions || []).some((t) => t.hash === sd.hash), 'chunk lists the transactions it included', cc.json.result?.transactions?.length);

  // ---- the validated @near-js/jsonrpc-client 1.4.0, as an existing NEAR service uses it ----------
  {
    const client = new NearRpcClient({ endpoint: URL_, retries: 0 });
    const via = async (what, fn) => {
      try { await fn(); check(true, what); } catch (e) { check(false, `validated client: ${what}`, String(e && e.message).slice(0, 800)); }
    };
    await via('block', () => cBlock(client, { finality: 'final' }));
    await via('chunk', () => cChunk(client, { chunkId: cb.chunks[0].chunk_hash }));
    await via('status', () => cStatus(client));
    await via('gas_price', () => cGasPrice(client, { blockId: null }));
    await via('query view_account', () => cQuery(client, { requestType: 'view_account', finality: 'final', accountId: SIGNER }));
    await via('query view_access_key', () => cQuery(client, { requestType: 'view_access_key', finality: 'final', accountId: SIGNER, publicKey: cred.public_key }));
    await via('query view_access_key_list', () => cQuery(client, { requestType: 'view_access_key_list', finality: 'final', accountId: SIGNER }));
    await via('query call_function', () => cQuery(client, { requestType: 'call_function', finality: 'final', accountId: FT, methodName: 'ft_metadata', argsBase64: '' }));
    await via('query view_code', () => cQuery(client, { requestType: 'view_code', finality: 'final', accountId: FT }));
    await via('tx', () => cTx(client, { txHash: sd.hash, senderAccountId: SIGNER, waitUntil: 'FINAL' }));
    await via('EXPERIMENTAL_tx_status', () => cTxStatus(client, { txHash: failed.hash, senderAccountId: SIGNER, waitUntil: 'FINAL' }));
    await via('EXPERIMENTAL_receipt', () => cReceipt(client, { receiptId: [...ids][0] }));
    const t = await sign([transfer('user-3.test.near', 3, 'client')]);
    await via('send_tx', () => cSendTx(client, { signedTxBase64: t.b64, waitUntil: 'FINAL' }));
  }

  // ---- INVALID_TRANSACTION and other handler errors -------------------------------------------------
  const stale = await sign([transfer('user-6.test.near', 1, 'stale')], { n: nonce });
  check(invalid(await rpc('InvalidNonce', 'send_tx', { signed_tx_base64: stale.b64 }, { expect: 'error' }))?.InvalidNonce !== undefined, 'InvalidNonce');
  const exp = await sign([transfer('user-6.test.near', 1, 'exp')], { n: nonce + 1n, blockHash: randomBytes(32) });
  check(invalid(await rpc('Expired', 'send_tx', { signed_tx_base64: exp.b64 }, { expect: 'error' })) === 'Expired', 'Expired');
  const good = await sign([transfer('user-6.test.near', 1, 'sig')], { n: nonce + 1n });
  const tampered = Buffer.from(good.bytes); tampered[tampered.length - 10] ^= 1;
  check(invalid(await rpc('InvalidSignature', 'send_tx', { signed_tx_base64: tampered.toString('base64') }, { expect: 'error' })) === 'InvalidSignature', 'InvalidSignature');
  const rich = await sign([actions.transfer(10n ** 36n)], { n: nonce + 1n, receiver: 'user-6.test.near' });
  check(invalid(await rpc('NotEnoughBalance', 'send_tx', { signed_tx_base64: rich.b64 }, { expect: 'error' }))?.NotEnoughBalance !== undefined, 'NotEnoughBalance');
  const many = await sign(Array.from({ length: 101 }, (_, i) => transfer('user-7.test.near', 1, `m${i}`)), { n: nonce + 1n });
  check(invalid(await rpc('TotalNumberOfActionsExceeded', 'send_tx', { signed_tx_base64: many.b64 }, { expect: 'error' }))?.ActionsValidation !== undefined, 'ActionsValidation');
  const other = KeyPair.fromRandom('ed25519');
  const noKeyTx = createTransaction(SIGNER, other.getPublicKey(), FT, 1n, [transfer('user-7.test.near', 1, 'nokey')], await finalHash());
  const noKey = await new KeyPairSigner(other).signTransaction(noKeyTx);
  check(invalid(await rpc('AccessKeyNotFound', 'send_tx', { signed_tx_base64: Buffer.from(encodeTransaction(noKey.signedTransaction)).toString('base64') }, { expect: 'error' }))?.InvalidAccessKeyError !== undefined, 'AccessKeyNotFound');
  check(cause(await rpc('bad borsh', 'send_tx', { signed_tx_base64: 'AAAA' }, { expect: 'error' })) === 'PARSE_ERROR', 'PARSE_ERROR');
  check(cause(await rpc('send_tx without params', 'send_tx', [], { expect: 'error' })) === 'PARSE_ERROR', 'send_tx [] PARSE_ERROR');
  const unknownHash = baseEncode(randomBytes(32));
  check(cause(await rpc('unknown tx NONE', 'tx', { tx_hash: unknownHash, sender_account_id: SIGNER, wait_until: 'NONE' }, { expect: 'error' })) === 'UNKNOWN_TRANSACTION', 'UNKNOWN_TRANSACTION');
  const to = await rpc('unknown tx timeout', 'tx', { tx_hash: unknownHash, sender_account_id: SIGNER }, { expect: 'error' });
  check(to.status === 408 && cause(to) === 'TIMEOUT_ERROR', 'TIMEOUT_ERROR 408', to.status);
  check(cause(await rpc('unknown method', 'no_such_method', [], { expect: 'error' })) === 'METHOD_NOT_FOUND', 'METHOD_NOT_FOUND');
  check((await raw('bad JSON', '{"jsonrpc":"2.0",')).json.error?.cause?.name === 'PARSE_ERROR', 'bad JSON: PARSE_ERROR');
  check((await raw('no method', '{"jsonrpc":"2.0","id":"x","params":[]}')).json.error?.cause?.name === 'PARSE_ERROR', 'missing method: PARSE_ERROR');

  // ---- every fault /sim/faults injects ---------------------------------------------------------------
  await faults({ error_rate: 1, error_kind: 'internal' });
  const ie = await rpc('fault internal', 'status', [], { expect: 'error' });
  check(ie.status === 500 && ie.json.error?.name === 'INTERNAL_ERROR', 'fault internal: INTERNAL_ERROR 500', ie.json);
  await rpc('fault internal on send_tx', 'send_tx', { signed_tx_base64: good.b64 }, { expect: 'error' });
  await faults({ error_kind: '503' });
  const r503 = await fetch(URL_, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: '1', method: 'status', params: [] }) });
  // a 503 comes from the proxy in front of a node, not from nearcore: no JSON-RPC body
  check(r503.status === 503 && !/^\s*\{/.test(await r503.text()), 'fault 503: HTTP 503 without a JSON-RPC body');
  await faults({ error_kind: 'mixed', error_rate: 0.5 });
  for (let i = 0; i < 6; i++) {
    const r = await fetch(URL_, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 'm', method: 'gas_price', params: [null] }) });
    const text = await r.text();
    if (r.status !== 503) { answers++; const p = checkAnswer('gas_price', JSON.parse(text), 'm'); check(p.length === 0, 'fault mixed: JSON answers match the schema', p.join('; ')); }
  }
  await faults({ error_rate: 0 });
  await faults({ lost_ack_rate: 1 });
  const lost = await sign([transfer('user-8.test.near', 1, 'lost')], { n: nonce + 1n });
  nonce++;
  let dropped = false;
  try { await fetch(URL_, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 'l', method: 'send_tx', params: { signed_tx_base64: lost.b64 } }) }); } catch { dropped = true; }
  check(dropped, 'fault lost_ack: connection dropped, nothing to check');
  await faults({ lost_ack_rate: 0 });
  await rpc('tx after lost ack', 'tx', { tx_hash: lost.hash, sender_account_id: SIGNER, wait_until: 'FINAL' });
  await rpc('send_tx again after lost ack', 'send_tx', { signed_tx_base64: lost.b64, wait_until: 'FINAL' });
  await faults({ latency_ms: 30, jitter_ms: 10 });
  await rpc('fault latency', 'block', { finality: 'final' });
  await faults({ latency_ms: 0, jitter_ms: 0 });
  await faults({ stall_ms: 300 });
  await rpc('fault stall: status', 'status', []);
  await rpc('fault stall: block', 'block', { finality: 'optimistic' });
  await faults({ stall_ms: 0 });
  await faults({ rate_limit: 1 });
  let limited = null;
  for (let i = 0; i < 5 && !limited; i++) {
    const r = await fetch(URL_, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 'r', method: 'status', params: [] }) });
    if (r.status === 429) limited = { headers: r.headers, body: await r.json() };
    else { answers++; const p = checkAnswer('status', await r.json(), 'r'); check(p.length === 0, 'fault rate_limit: answers under the limit match', p.join('; ')); }
  }
  // a 429 comes from the provider's proxy, not from nearcore: no JSON-RPC envelope, Retry-After set
  check(limited && limited.headers.get('retry-after') !== null && !('jsonrpc' in limited.body), 'fault rate_limit: 429 with Retry-After', limited?.body);
  await faults({ rate_limit: 0 });
  await faults({ congestion: 0.9 });
  const cong = await sign([transfer('user-8.test.near', 1, 'cong')], { n: nonce + 1n });
  check(invalid(await rpc('fault congestion: ShardCongested', 'send_tx', { signed_tx_base64: cong.b64 }, { expect: 'error' }))?.ShardCongested !== undefined, 'ShardCongested');
  await faults({ congestion: 0 });
  await faults({ bump_nonce: { public_key: cred.public_key, by: 2 } });
  check(invalid(await rpc('fault bump_nonce: InvalidNonce', 'send_tx', { signed_tx_base64: cong.b64 }, { expect: 'error' }))?.InvalidNonce !== undefined, 'bump_nonce: InvalidNonce');
  await faults({ external_writer: { public_key: cred.public_key, every_blocks: 1, bump: 1 } });
  await waitBlocks(2);
  await rpc('fault external_writer: view_access_key', 'query', viewKey);
  await faults({ external_writer: null });
  await faults({ set_balance: { yocto: '1' } });
  nonce = BigInt((await rpc('view_access_key', 'query', viewKey)).json.result.nonce);
  const poor = await sign([transfer('user-8.test.near', 1, 'poor')]);
  check(invalid(await rpc('fault set_balance: NotEnoughBalance', 'send_tx', { signed_tx_base64: poor.b64 }, { expect: 'error' }))?.NotEnoughBalance !== undefined, 'set_balance: NotEnoughBalance');
  await rpc('fault set_balance: view_account', 'query', { request_type: 'view_account', finality: 'optimistic', account_id: SIGNER });
  await faults({ set_balance: { yocto: '1000000000000000000000000000000' } });
  await faults({ missed_chunks: 150 });
  check(invalid(await rpc('fault missed_chunks: ShardStuck', 'send_tx', { signed_tx_base64: poor.b64 }, { expect: 'error' }))?.ShardStuck !== undefined, 'missed_chunks: ShardStuck');
  await faults({ missed_chunks: 0 });
  await faults({ invalid_signature_key: cred.public_key });
  check(invalid(await rpc('fault invalid_signature_key', 'send_tx', { signed_tx_base64: poor.b64 }, { expect: 'error' })) === 'InvalidSignature', 'invalid_signature_key: InvalidSignature');
  await faults({ invalid_signature_key: null });
  for (const kind of ['InvalidChain', 'CostOverflow']) {
    await faults({ reject_next: { kind, count: 1 } });
    check(invalid(await rpc(`fault reject_next ${kind}`, 'send_tx', { signed_tx_base64: poor.b64 }, { expect: 'error' })) === kind, `reject_next ${kind}`);
  }
  await faults({ lag_blocks: 3 });
  const lagged = await rpc('fault lag_blocks: block final', 'block', { finality: 'final' });
  const real = await rpc('fault lag_blocks: block by height', 'block', { block_id: lagged.json.result.header.height + 3 });
  check(real.json.result?.header?.height === lagged.json.result.header.height + 3, 'lag_blocks: block by id is not lagged');
  await faults({ lag_blocks: 0 });
  await faults({ move_tokens: { to: 'user-9.test.near', amount: '7' } });
  await rpc('fault move_tokens: ft_balance_of', 'query', { request_type: 'call_function', finality: 'optimistic', account_id: FT,
    method_name: 'ft_balance_of', args_base64: Buffer.from(JSON.stringify({ account_id: 'user-9.test.near' })).toString('base64') });
  await rpc('after the faults: send_tx FINAL', 'send_tx', { signed_tx_base64: poor.b64, wait_until: 'FINAL' });
  // storage_usage: the contract's state outgrows its balance; the receipt fails after its last
  // action with ActionError {index: null, kind: LackBalanceForState}.
  await faults({ storage_usage: { account_id: FT, bytes: 100000000000 } });
  await rpc('fault storage_usage: view_account', 'query', { request_type: 'view_account', finality: 'optimistic', account_id: FT });
  nonce = BigInt((await rpc('view_access_key', 'query', viewKey)).json.result.nonce);
  const stake = await sign([transfer('user-8.test.near', 1, 'stake')]);
  const staked = await rpc('fault storage_usage: LackBalanceForState', 'send_tx', { signed_tx_base64: stake.b64, wait_until: 'FINAL' });
  const ae = staked.json?.result?.status?.Failure?.ActionError;
  check(ae && ae.index === null && ae.kind?.LackBalanceForState?.account_id === FT, 'storage_usage: ActionError without index, LackBalanceForState', ae);
  await faults({ storage_usage: { account_id: FT, bytes: 0 } });

  // ---- the lagging listener: the same chain LAG blocks behind ------------------------------------
  const at = { url: LAG_URL };
  const lst = await rpc('lagging: status', 'status', [], at);
  const liveHead = await head();
  check(liveHead - lst.json.result.sync_info.latest_block_height >= LAG, 'lagging: status is LAG blocks behind',
    { live: liveHead, lagging: lst.json.result.sync_info.latest_block_height });
  await rpc('lagging: block final', 'block', { finality: 'final' }, at);
  await rpc('lagging: view_access_key final', 'query', { ...viewKey, finality: 'final' }, at);
  await rpc('lagging: view_account', 'query', { request_type: 'view_account', finality: 'final', account_id: SIGNER }, at);
  // signed with the live final block, which the lagging node has not seen yet: Expired there
  const fresh = await sign([transfer('user-3.test.near', 1, 'lagging')]);
  check(invalid(await rpc('lagging: send_tx with a newer block hash', 'send_tx', { signed_tx_base64: fresh.b64 }, { ...at, expect: 'error' })) === 'Expired',
    'lagging: a block hash newer than its view is Expired');
  await rpc('lagging: the same bytes to the live chain', 'send_tx', { signed_tx_base64: fresh.b64, wait_until: 'INCLUDED' });
  const lookup = { tx_hash: fresh.hash, sender_account_id: SIGNER, wait_until: 'NONE' };
  check(cause(await rpc('lagging: tx included after its view', 'tx', lookup, { ...at, expect: 'error' })) === 'UNKNOWN_TRANSACTION',
    'lagging: a transaction included after its view is UNKNOWN_TRANSACTION');
  await waitBlocks(LAG + 1);
  await rpc('lagging: tx once its view reaches it', 'tx', lookup, at);
  await rpc('lagging: EXPERIMENTAL_tx_status', 'EXPERIMENTAL_tx_status', lookup, at);
} catch (e) {
  check(false, 'unexpected exception', String(e && e.stack || e));
}
await finish();
