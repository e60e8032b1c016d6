// keys_cli: `nearft keys add|list|remove` and `nearft doctor` against a real nearsim on 127.0.0.1.
// - remove refuses to delete the account's only full-access key (nothing is sent);
// - add --count 150 writes 150 key files (0600, near-cli-rs layout) and adds them in exactly two
//   transactions (100 + 50 AddKey actions); list then shows the same 151 keys on chain and on disk;
// - an interrupted run is simulated by key files written with `nearft keys new` but never added:
//   add --count 2 adds those 3 files and generates none, and a further add --count 0 sends no
//   transaction (no key is added twice);
// - with every send answer lost (nearsim's lost_ack_rate fault: the transaction lands, the
//   connection drops) add still finishes: it looks the transaction up by hash;
// - with no block produced (stall fault) add gives up after --wait-timeout-ms with exit 1 and the
//   key files on disk; once blocks resume the transaction lands and a re-run adds nothing twice;
// - remove deletes two keys on chain and their files; a key not on chain is reported as absent;
// - doctor passes on the good configuration and names each problem of a bad one (a key file not on
//   chain, a contract that does not exist, gas settings that never fit, an endpoint that does not
//   answer);
// - bad input: usage errors exit 2 with one line naming the flag, an unreachable node exits 1, and
//   an add while another holds the directory's lock exits 1.
// Usage: node keys_cli.mjs NEARSIM NEARFT
import { startSim, request, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { spawn } from 'node:child_process';
import { readdirSync, statSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [nearsim, nearft] = process.argv.slice(2);
const SIGNER = 'distributor.test.near';

// run: nearft with args; resolves {code, out, err, json}. Bounded only by a generous limit.
function run(args) {
  return new Promise((resolve) => {
    const p = spawn(nearft, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), 600000);
    p.on('exit', (code, sig) => {
      clearTimeout(t);
      let json;
      try { json = JSON.parse(out); } catch { json = undefined; }
      resolve({ code: code ?? sig, out, err, json });
    });
  });
}

const sim = await startSim(nearsim, ['--block-ms', '50', '--keys', '1']);
const url = `http://127.0.0.1:${sim.port}`;
const C = ['--rpc-url', url, '--signer', SIGNER, '--credentials', sim.creds];
const keyDir = join(sim.creds, SIGNER);
const files = () => readdirSync(keyDir).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
let code = 1;
try {
  // ---- the starting point: one full-access key on chain and on disk
  let l = await run(['keys', 'list', ...C]);
  check(l.code === 0 && l.json, `list exits 0 with JSON (${l.code} ${l.err})`);
  check(l.json?.on_chain === 1 && l.json?.full_access_on_chain === 1 && l.json?.pending === 0,
    `one key on chain at start: ${l.out}`);
  const k0 = l.json.keys.find((k) => k.on_chain).public_key;

  // ---- refusing to remove the last full-access key: exit 1, nothing sent
  let r = await run(['keys', 'remove', ...C, '--public-key', k0]);
  check(r.code === 1 && /no full-access key left/.test(r.err),
    `removing the only full-access key is refused (${r.code} ${r.err})`);
  l = await run(['keys', 'list', ...C]);
  check(l.json?.on_chain === 1, 'the refused removal changed nothing on chain');

  // ---- 150 keys: two transactions of 100 and 50 AddKey actions
  let a = await run(['keys', 'add', ...C, '--count', '150']);
  check(a.code === 0, `add --count 150 exits 0 (${a.code} ${a.err})`);
  check(a.json?.added === 150 && a.json?.generated === 150 && a.json?.from_disk === 0,
    `add reports 150 generated and added: ${a.out.slice(0, 300)}`);
  check(JSON.stringify(a.json?.transactions?.map((t) => [t.actions, t.status])) ===
    JSON.stringify([[100, 'success'], [50, 'success']]), 'two transactions: 100 + 50 actions');
  check(a.json?.keys_on_chain === 151 && a.json?.full_access_on_chain === 151, '151 keys on chain');
  const names = files().filter((f) => f.startsWith('ed25519_'));
  check(names.length === 151, `151 near-cli-rs key files (${names.length})`);
  const sample = join(keyDir, names[names.length - 1]);
  check((statSync(sample).mode & 0o777) === 0o600, 'key files are 0600');
  const kf = JSON.parse(readFileSync(sample, 'utf8'));
  check(kf.account_id === SIGNER && `ed25519_${kf.public_key.slice(8)}.json` ===
    names[names.length - 1] && kf.private_key.startsWith('ed25519:'), 'key file content and name');
  check(!/private_key|ed25519:[1-9A-Za-z]{80,}/.test(a.out + a.err), 'no secret on stdout/stderr');
  l = await run(['keys', 'list', ...C]);
  check(l.json?.on_chain === 151 && l.json?.on_disk === 151 && l.json?.pending === 0,
    `list: 151 on chain and on disk: ${JSON.stringify({ ...l.json, keys: undefined })}`);
  check(l.json?.keys.every((k) => k.on_chain && k.on_disk && k.permission === 'FullAccess' &&
    Number.isInteger(k.nonce)), 'every key: on chain, on disk, FullAccess, with a nonce');

  // ---- an interrupted run: key files on disk that never reached the chain
  for (let i = 0; i < 3; i++) {
    const n = await run(['keys', 'new', '--account', SIGNER, '--out', sim.creds]);
    check(n.code === 0, 'keys new writes a file');
  }
  l = await run(['keys', 'list', ...C]);
  check(l.json?.pending === 3 && l.json?.on_chain === 151, 'three key files pending');
  a = await run(['keys', 'add', ...C, '--count', '2']);
  check(a.code === 0 && a.json?.added === 3 && a.json?.from_disk === 3 && a.json?.generated === 0,
    `re-run adds the 3 pending files and generates none: ${a.out.slice(0, 300)} ${a.err}`);
  check(a.json?.transactions?.length === 1 && a.json.transactions[0].actions === 3,
    'one transaction of 3 AddKey actions');
  a = await run(['keys', 'add', ...C, '--count', '0']);
  check(a.code === 0 && a.json?.added === 0 && a.json?.transactions?.length === 0,
    `add --count 0 with nothing pending sends nothing: ${a.out.slice(0, 200)} ${a.err}`);
  check(a.json?.keys_on_chain === 154 && files().length === 154,
    `154 keys on chain, 154 near-cli-rs files (${a.json?.keys_on_chain}, ${files().length})`);

  // ---- the send answer is lost; the transaction is found by hash
  let f = await request(sim.port, 'POST', '/sim/faults', { lost_ack_rate: 1 });
  check(f.status === 200, `lost_ack_rate fault set (${f.status})`);
  a = await run(['keys', 'add', ...C, '--count', '5', '--wait-timeout-ms', '120000']);
  f = await request(sim.port, 'POST', '/sim/faults', { reset: true });
  check(a.code === 0 && a.json?.added === 5 && a.json?.transactions?.[0]?.status === 'success',
    `add with lost answers finishes by looking the transaction up: ${a.out.slice(0, 300)} ${a.err}`);
  const stats = (await request(sim.port, 'GET', '/sim/stats')).body;
  check(stats?.lost_acks >= 1, `nearsim dropped the send answer (lost_acks ${stats?.lost_acks})`);
  check(a.json?.keys_on_chain === 159, `159 keys on chain (${a.json?.keys_on_chain})`);

  // ---- no outcome in time (no block is produced): exit 1, the files stay; once blocks resume
  // the transaction lands and a re-run finds nothing left to add
  f = await request(sim.port, 'POST', '/sim/faults', { stall_seconds: 3600 });
  check(f.status === 200, `stall fault set (${f.status})`);
  a = await run(['keys', 'add', ...C, '--count', '3', '--wait-timeout-ms', '1000']);
  check(a.code === 1 && /are not on chain/.test(a.err) && /next `nearft keys add`/.test(a.err),
    `no outcome in time: exit 1 naming what stays to do (${a.code} ${a.err})`);
  check(a.json?.transactions?.[0]?.status === 'unknown' && a.json?.generated === 3,
    `the transaction is reported as unknown: ${a.out.slice(0, 300)}`);
  check(files().length === 162, `the 3 new key files are on disk (${files().length})`);
  f = await request(sim.port, 'POST', '/sim/faults', { stall_seconds: 0 });
  await waitFor(async () => (await run(['keys', 'list', ...C])).json?.on_chain === 162,
    'the stalled transaction to land');
  a = await run(['keys', 'add', ...C, '--count', '0']);
  check(a.code === 0 && a.json?.added === 0 && a.json?.transactions?.length === 0 &&
    a.json?.keys_on_chain === 162, `the re-run adds nothing twice: ${a.out.slice(0, 200)}`);

  // ---- remove two keys on chain and their files; one absent key
  l = await run(['keys', 'list', ...C]);
  const victims = l.json.keys.filter((k) => k.public_key !== k0).slice(0, 2).map((k) => k.public_key);
  const absent = (await run(['keys', 'new', '--account', 'someone-else.test.near', '--out',
    join(sim.dir, 'other')])).json.public_key;
  r = await run(['keys', 'remove', ...C, '--public-key', victims[0], '--public-key', victims[1],
    '--public-key', absent]);
  check(r.code === 0 && r.json?.removed?.length === 2 && r.json?.absent?.[0] === absent &&
    r.json?.transaction?.status === 'success', `remove 2 keys: ${r.out} ${r.err}`);
  check(victims.every((v) => !existsSync(join(keyDir, `ed25519_${v.slice(8)}.json`))),
    'the removed keys\' files are gone');
  check(!files().some((n) => n.startsWith('.removing')) &&
    !readdirSync(keyDir).some((n) => n.startsWith('.removing')), 'no set-aside file left');
  // the first key lives in both layouts (nearsim writes DIR/ACCOUNT.json too): both files go
  const legacy = join(sim.creds, `${SIGNER}.json`);
  check(existsSync(legacy), 'the legacy key file exists');
  r = await run(['keys', 'remove', ...C, '--public-key', k0]);
  check(r.code === 0 && r.json?.removed?.[0] === k0 && r.json?.files_deleted === 2 &&
    r.json?.transaction?.signing_key !== k0, `remove the first key, signed by another: ${r.out}`);
  check(!existsSync(legacy) && !existsSync(join(keyDir, `ed25519_${k0.slice(8)}.json`)) &&
    !readdirSync(sim.creds).some((n) => n.startsWith('.removing')),
    'its near-cli-rs and legacy files are gone, nothing set aside');
  victims.push(k0);
  l = await run(['keys', 'list', ...C]);
  check(l.json?.on_chain === 159 && l.json?.pending === 0 && !l.json.keys.some((k) => victims.includes(k.public_key)),
    `159 keys left, the removed ones not among them (${l.json?.on_chain})`);

  // ---- doctor
  const cfg = ['--rpc-url', url, '--signer', SIGNER, '--credentials', sim.creds,
    '--contract', 'ft.test.near'];
  let d = await run(['doctor', ...cfg]);
  check(d.code === 0 && /no problems found/.test(d.out) && !/^problem/m.test(d.out),
    `doctor passes on the good configuration (${d.code}):\n${d.out}${d.err}`);
  check(/ft_metadata/.test(d.out) && /storage_balance_bounds/.test(d.out) &&
    /159 keys .* full access/.test(d.out), 'doctor reports what it checked');
  const stray = (await run(['keys', 'new', '--account', SIGNER, '--out', sim.creds])).json.public_key;
  d = await run(['doctor', ...cfg.slice(0, -1), 'missing-token.test.near',
    '--max-tx-gas', '1000000000000000', '--ft-transfer-gas', '1000000000000000',
    '--rpc-url', 'http://127.0.0.1:1/secret-path']);
  check(d.code === 1, `doctor exits 1 on a bad configuration (${d.code})`);
  check(new RegExp(`key ${stray} .*is not an access key`).test(d.out),
    `doctor names the key that is not on chain:\n${d.out}`);
  check(/--contract missing-token\.test\.near: the account does not exist/.test(d.out),
    'doctor names the missing contract');
  check(/a transfer to a new receiver never fits/.test(d.out), 'doctor names the gas problem');
  check(/--rpc-url http:\/\/127\.0\.0\.1:1 does not answer/.test(d.out) && !/secret-path/.test(d.out),
    'doctor names the endpoint that does not answer, without its path');
  check(/doctor: \d+ problems found/.test(d.out), 'doctor counts the problems');
  d = await run(['doctor', '--rpc-url', url, '--signer', SIGNER, '--credentials', sim.creds]);
  check(d.code === 2 && /contract is required/.test(d.err), `doctor without --contract exits 2`);
  // the stray file is a pending key: keys add --count 0 adds it, and doctor passes again
  a = await run(['keys', 'add', ...C, '--count', '0']);
  check(a.code === 0 && a.json?.added === 1 && a.json?.from_disk === 1, 'the stray key is added');
  d = await run(['doctor', ...cfg]);
  check(d.code === 0, `doctor passes again (${d.code})`);

  // ---- bad input
  const usage = [
    [['keys', 'add', ...C], /missing --count/],
    [['keys', 'add', ...C, '--count', '1001'], /--count: "1001" is not a number in 0\.\.1000/],
    [['keys', 'add', ...C, '--count', '-1'], /--count/],
    [['keys', 'add', ...C, '--count', '1', '--signing-key', 'xyz'], /--signing-key: "xyz"/],
    [['keys', 'add', '--signer', SIGNER, '--credentials', sim.creds, '--count', '1'],
      /missing --rpc-url/],
    [['keys', 'add', '--rpc-url', 'ftp://x', '--signer', SIGNER, '--credentials', sim.creds,
      '--count', '1'], /--rpc-url: give an http/],
    [['keys', 'list', '--rpc-url', url, '--signer', 'Bad..Id', '--credentials', sim.creds],
      /--signer: "Bad\.\.Id" is not a valid account id/],
    [['keys', 'list', ...C, '--bogus'], /unknown argument "--bogus"/],
    [['keys', 'remove', ...C], /missing --public-key/],
    [['keys', 'remove', ...C, '--public-key', 'nope'], /--public-key: "nope"/],
    [['keys', 'remove', ...C, '--public-key', k0, '--public-key', k0], /given twice/],
    [['keys', 'add', ...C, '--count', '1', '--wait-timeout-ms', '5'], /--wait-timeout-ms/],
    [['keys'], /missing subcommand/],
  ];
  for (const [args, re] of usage) {
    const u = await run(args);
    check(u.code === 2 && re.test(u.err) && u.err.trim().split('\n').length === 1 && u.out === '',
      `usage error exits 2 with one line: ${args.slice(0, 2).join(' ')} ... → ${u.code} ${u.err}`);
  }
  // a second add while one holds the directory's lock is refused (flock(1) holds it here)
  const lockFile = join(sim.creds, `.nearft-keys-${SIGNER}.lock`);
  check(existsSync(lockFile), 'keys add left its lock file');
  const holder = spawn('flock', ['-x', lockFile, '-c', 'echo held; exec cat'],
    { stdio: ['pipe', 'pipe', 'ignore'] });
  await new Promise((resolve) => holder.stdout.on('data', (d) => { if (/held/.test(d)) resolve(); }));
  const busy = await run(['keys', 'add', ...C, '--count', '1']);
  holder.stdin.end();
  await new Promise((resolve) => holder.on('exit', resolve));
  check(busy.code === 1 && /another `nearft keys add` or `keys remove`/.test(busy.err),
    `a concurrent add is refused (${busy.code} ${busy.err})`);
  const dead = await run(['keys', 'list', '--rpc-url', 'http://127.0.0.1:1', '--signer', SIGNER,
    '--credentials', sim.creds]);
  check(dead.code === 1 && /cannot reach the RPC node/.test(dead.err), 'unreachable node: exit 1');
  const nosigner = await run(['keys', 'add', '--rpc-url', url, '--signer', 'nobody.test.near',
    '--credentials', sim.creds, '--count', '1']);
  check(nosigner.code === 1 && /nothing can sign/.test(nosigner.err) &&
    !existsSync(join(sim.creds, 'nobody.test.near')), 'no signing key: exit 1, no file written');
  code = report('keys_cli');
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, code));
