// Reproduces the worked vectors 1-4 of docs/PROTOCOL.md section 1.9 with near-api-js 7.2.0 and, when
// a nearft binary is given, with `nearft tx sign` too; both must give the document's exact tx hash
// and signed base64. Usage: node vectors.mjs [path/to/nearft]. Exit 0 only when all match.
import { actions as A, PublicKey, baseEncode, baseDecode } from 'near-api-js';
import { keyFromSeed, napiSign, sha256, tempDir, writeKeyFile, run, hex } from './lib.mjs';

const te = new TextEncoder();
const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const key = keyFromSeed(seed);
const blockHash = sha256(te.encode('near-test-vector-block'));
const blockHashB58 = 'HveJKQvuB2oTwbExTvT6bku4oWLB6UyWnqi5WWAD1LU';
const pk2 = 'ed25519:586Z7H2vpX9qNhN2T4e9Utugie3ogjbxzGaMtM3E6HR5';
const FT = 'usdt.tether-token.near';

// Expected values are copied from docs/PROTOCOL.md section 1.9 (independent of this project).
const VECTORS = [
  {
    name: 'vector 1', receiver: FT, nonce: 150000000000001n,
    actions: [A.functionCall('ft_transfer', te.encode('{"receiver_id":"bob.near","amount":"1000000"}'), 30000000000000n, 1n)],
    cli: ['--ft-transfer', 'bob.near:1000000', '--gas-per-action', '30000000000000'],
    hash: 'EqCZeUDZXMdq8LjvHsFjK8RTcrGLeEnECCibXgGBUDdr',
    signed: 'CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoBYLeYbIgAABYAAAB1c2R0LnRldGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkBAAAAAgsAAABmdF90cmFuc2Zlci0AAAB7InJlY2VpdmVyX2lkIjoiYm9iLm5lYXIiLCJhbW91bnQiOiIxMDAwMDAwIn0A4FfrSBsAAAEAAAAAAAAAAAAAAAAAAAAApt+/6qBkGtwe/XutVUj93Ag+Od9WE9uGIp/RTWU10PhT3TkaTN28DkAJ9j8fwwQi1oayzuAy600s4M5ziFYxCw==',
  },
  {
    name: 'vector 2', receiver: FT, nonce: 150000000000002n,
    actions: [
      A.functionCall('ft_transfer', te.encode('{"receiver_id":"bob.near","amount":"2500","memo":"batch-1"}'), 15000000000000n, 1n),
      A.functionCall('ft_transfer', te.encode('{"receiver_id":"carol.near","amount":"123456789012345678901234567890"}'), 15000000000000n, 1n),
    ],
    cli: ['--ft-transfer', 'bob.near:2500:batch-1', '--ft-transfer', 'carol.near:123456789012345678901234567890',
      '--gas-per-action', '15000000000000'],
    hash: 'CdpxqXKkXW7mKX9widuKYxdHCiRP87KeEay7V93ybhcA',
    signed: 'CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoCYLeYbIgAABYAAAB1c2R0LnRldGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkCAAAAAgsAAABmdF90cmFuc2ZlcjsAAAB7InJlY2VpdmVyX2lkIjoiYm9iLm5lYXIiLCJhbW91bnQiOiIyNTAwIiwibWVtbyI6ImJhdGNoLTEifQDwq3WkDQAAAQAAAAAAAAAAAAAAAAAAAAILAAAAZnRfdHJhbnNmZXJGAAAAeyJyZWNlaXZlcl9pZCI6ImNhcm9sLm5lYXIiLCJhbW91bnQiOiIxMjM0NTY3ODkwMTIzNDU2Nzg5MDEyMzQ1Njc4OTAifQDwq3WkDQAAAQAAAAAAAAAAAAAAAAAAAABSeB+zqYDAPj1uG20W7CQBeZpx5mc2gwK1nYvx+8duTs3q2t0pwqItUP2AXv4MYcdkX5JnVbIIg4Cuw7Fw0EQK',
  },
  {
    // storage_deposit and ft_transfer carry different gas here, so the CLI uses two --function-call.
    name: 'vector 3', receiver: FT, nonce: 150000000000003n,
    actions: [
      A.functionCall('storage_deposit', te.encode('{"account_id":"dave.near","registration_only":true}'), 10000000000000n, 1250000000000000000000n),
      A.functionCall('ft_transfer', te.encode('{"receiver_id":"dave.near","amount":"1"}'), 20000000000000n, 1n),
    ],
    cli: ['--function-call', 'storage_deposit:{"account_id":"dave.near","registration_only":true}:10000000000000:1250000000000000000000',
      '--function-call', 'ft_transfer:{"receiver_id":"dave.near","amount":"1"}:20000000000000:1'],
    hash: 'GG9JHWiXqUGdZroojTfRLeyjzdDBHRUNk3DoYu3N9xXZ',
    signed: 'CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoDYLeYbIgAABYAAAB1c2R0LnRldGhlci10b2tlbi5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkCAAAAAg8AAABzdG9yYWdlX2RlcG9zaXQzAAAAeyJhY2NvdW50X2lkIjoiZGF2ZS5uZWFyIiwicmVnaXN0cmF0aW9uX29ubHkiOnRydWV9AKByThgJAAAAAEhWNxk8w0MAAAAAAAAAAgsAAABmdF90cmFuc2ZlcigAAAB7InJlY2VpdmVyX2lkIjoiZGF2ZS5uZWFyIiwiYW1vdW50IjoiMSJ9AEDlnDASAAABAAAAAAAAAAAAAAAAAAAAAOnKasl/8Sfm9i2lFpvbtQXbec1h91PNeGqikZ0NcUk+YQan2069cUo01iCrTBhE7HmwcrFd1BAYj/tL/RdI0wQ=',
  },
  {
    name: 'vector 4', receiver: 'alice.near', nonce: 150000000000004n,
    actions: [
      A.transfer(1000000000000000000000000n),
      A.addFunctionCallAccessKey(PublicKey.from(pk2), FT, ['ft_transfer', 'storage_deposit'], 250000000000000000000000n),
      A.addFullAccessKey(PublicKey.from(pk2)),
      A.deleteKey(PublicKey.from(pk2)),
    ],
    cli: ['--transfer', '1000000000000000000000000',
      '--add-key', `${pk2}:fc:${FT}:ft_transfer,storage_deposit:250000000000000000000000`,
      '--add-key', `${pk2}:full`, '--delete-key', pk2],
    hash: 'HWT1362UV7Lzvxs5P7WjBMrVmVvfugVxaoDFY7zBqpq1',
    signed: 'CgAAAGFsaWNlLm5lYXIA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoEYLeYbIgAAAoAAABhbGljZS5uZWFyBFXyhrPPqQ1JQ+DMLJq4mi+Y9UjkHPVHpUbSK8IaizkEAAAAAwAAAKHtzM4bwtMAAAAAAAAFAD1AF8PoQ4lakrcKp00bfrycmCzPLsSWjMDNVfEq9GYMAAAAAAAAAAAAAQAAQGg7s/OG8DQAAAAAAAAWAAAAdXNkdC50ZXRoZXItdG9rZW4ubmVhcgIAAAALAAAAZnRfdHJhbnNmZXIPAAAAc3RvcmFnZV9kZXBvc2l0BQA9QBfD6EOJWpK3CqdNG368nJgszy7ElozAzVXxKvRmDAAAAAAAAAAAAQYAPUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0ZgwAWquLhiw/uf7YS2TTz39WDpf91bTFArMmBsYBTRvU31xqaDV6CEDuI5q8UahM0M+CALunt1PXMWkpHOYvarkfAQ==',
  },
];

const nearft = process.argv[2] || process.env.NEARFT;
let passed = 0;
let failed = 0;
const check = (label, got, want) => {
  if (got === want) { passed++; return; }
  failed++;
  console.log(`MISMATCH ${label}\n  got:  ${got}\n  want: ${want}`);
};

if (key.publicKey !== 'ed25519:FVen3X669xLzsi6N2V91DoiyzHzg1uAgqiT8jZ9nS96Z') throw new Error('seed -> public key mismatch');
if (baseEncode(blockHash) !== blockHashB58 || hex(baseDecode(blockHashB58)) !== hex(blockHash)) throw new Error('block hash');

const tmp = tempDir('nearft-vectors-');
try {
  const keyFile = writeKeyFile(tmp.dir, 'alice.near.json', 'alice.near', key);
  for (const v of VECTORS) {
    const js = await napiSign(key, 'alice.near', v.receiver, v.nonce, v.actions, blockHash);
    check(`${v.name} near-api-js hash`, js.hash, v.hash);
    check(`${v.name} near-api-js signed_tx_base64`, js.signedB64, v.signed);
    if (!nearft) continue;
    const args = ['tx', 'sign', '--key-file', keyFile, '--receiver', v.receiver, '--nonce', v.nonce.toString(),
      '--block-hash', blockHashB58, ...v.cli];
    const r = await run(nearft, args);
    if (r.code !== 0) {
      failed++;
      console.log(`FAIL ${v.name} nearft exit ${r.code}: ${r.stderr.trim()}\n  args: ${JSON.stringify(args)}`);
      continue;
    }
    const out = JSON.parse(r.stdout);
    check(`${v.name} nearft hash`, out.hash, v.hash);
    check(`${v.name} nearft signed_tx_base64`, out.signed_tx_base64, v.signed);
    check(`${v.name} nearft signer_id`, out.signer_id, 'alice.near');
    check(`${v.name} nearft public_key`, out.public_key, key.publicKey);
    check(`${v.name} nearft receiver_id`, out.receiver_id, v.receiver);
    check(`${v.name} nearft actions`, out.actions, v.actions.length);
    check(`${v.name} nearft nonce`, String(out.nonce), v.nonce.toString());
  }
} finally {
  tmp.cleanup();
}
console.log(`vectors: ${passed} passed, ${failed} failed${nearft ? '' : ' (near-api-js only; no nearft given)'}`);
process.exit(failed === 0 ? 0 : 1);
