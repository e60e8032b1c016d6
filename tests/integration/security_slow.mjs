// security_slow: nearftd against slow and greedy clients on real processes (nearsim + nearftd on
// 127.0.0.1), over raw sockets. The attackers connect from 127.0.0.2 and 127.0.0.3 (loopback
// addresses of their own, so the per-address cap can be seen apart from the normal client on
// 127.0.0.1). Each phase checks that a normal client still gets its answer while the attack
// runs, that the attackers' connections are closed by the deadlines (counted in
// nearft_ingest_connections_closed_total), and that nearftd's VmRSS stays under the cap the
// flags give (docs/TUNING.md): RSS at rest + ingest_threads x max_connections x 5 KiB +
// body_pool_bytes + max_unsent_bytes (16 MiB) + 32 MiB for allocator slack and the answer each
// thread may hold beyond max_unsent_bytes.
//  (a) 600 slowloris heads, one header line every 200 ms: closed by --head-timeout-ms.
//  (b) 20 clients that pipeline /metrics requests and never read: reset by --write-timeout-ms,
//      cut short of the answers they asked for.
//  (c) 600 connections announcing Content-Length: 16000000, sending 256 KiB of it and holding:
//      --body-pool-bytes admits two, the rest get 503 + Retry-After naming body_pool_bytes, the
//      two are closed by --body-min-rate; afterwards no large buffer is left.
//  (d) --max-conns-per-ip: with the cap's worth of idle keep-alive connections open from one
//      address, one more from it gets 503 naming max_conns_per_ip and is closed.
//  (e) --max-unsent-bytes, on a second nearftd with the smallest cap (64 KiB) and no practical
//      write timeout: clients that pipeline /metrics and never read each leave the server holding
//      the part of one answer their socket did not take. Where that answer is cut depends on the
//      kernel's buffer sizes and is the same on every connection of a run (once, 56 connections
//      left 3.7 KiB each), so reader i first asks for i/count of an answer's worth of /health
//      answers: the cuts spread over a whole answer and the readers hold about count x size / 2,
//      eight times the cap. The slowest readers are reset (reason="unsent") and the memory held
//      stays under the cap plus one answer a thread.
// At most 600 attacker connections are open at a time (about 1900 over the whole test).
// In sanitizer builds (NF_SANITIZED=1, set by security.cmake) the RSS cap is not checked.
// Usage: node security_slow.mjs NEARSIM NEARFTD
import { startSim, startDaemon, request, waitFor, check, report, keepOrClean } from './lib/harness.mjs';
import { metrics, metricSum } from './faults_lib.mjs';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

const [nearsim, nearftd] = process.argv.slice(2);

const THREADS = 2, MAX_CONNS = 1024, POOL = 32 << 20, PER_IP = 610, UNSENT_D = 16 << 20;
const RSS_CAP_SLACK = 32 << 20; // allocator slack and the answer each thread may hold over UNSENT_D

function rssBytes(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) * 1024 : 0;
}

// attacker: a raw connection from localAddress; records what it read and when it was closed.
function attacker(port, localAddress, onConnect) {
  const a = { sock: null, closed: false, data: '', bytes: 0, connected: false };
  a.sock = net.connect({ port, host: '127.0.0.1', localAddress }, () => {
    a.connected = true;
    onConnect(a);
  });
  a.sock.on('data', (d) => {
    a.bytes += d.length;
    if (a.data.length < 4096) a.data += d.toString('latin1');
  });
  a.sock.on('error', () => {});
  a.sock.on('close', () => { a.closed = true; });
  return a;
}

// wireBytes: the length on the wire (head and body) of the answer to GET path.
function wireBytes(port, path) {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const s = net.connect({ port, host: '127.0.0.1' }, () => s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`));
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = buf.subarray(0, end).toString('latin1').match(/\r\ncontent-length: *(\d+)/i);
      if (m === null) {
        s.destroy();
        reject(new Error(`GET ${path}: no Content-Length in ${buf.subarray(0, end)}`));
      } else if (buf.length >= end + 4 + Number(m[1])) {
        s.destroy();
        resolve(end + 4 + Number(m[1]));
      }
    });
    s.on('error', reject);
    s.on('close', () => reject(new Error(`GET ${path}: closed after ${buf.length} bytes`)));
    s.setTimeout(60000, () => s.destroy(new Error(`GET ${path}: no whole answer in 60 s`)));
  });
}

const closedCount = (as) => as.filter((a) => a.closed).length;
const closedBy = async (port, reason) =>
  metricSum(await metrics(port), 'nearft_ingest_connections_closed_total', `reason="${reason}"`);

const sim = await startSim(nearsim, ['--block-ms', '100', '--keys', '2']);
const logFile = join(sim.dir, 'nearftd.log');
const d = await startDaemon(nearftd, sim, join(sim.dir, 'data'), ['--ingest-threads', `${THREADS}`,
  '--max-connections', `${MAX_CONNS}`, '--head-timeout-ms', '1000', '--body-min-rate', '65536',
  '--write-timeout-ms', '1000', '--max-conns-per-ip', `${PER_IP}`, '--body-pool-bytes', `${POOL}`,
  '--max-unsent-bytes', `${UNSENT_D}`,
  '--wait-timeout-ms', '20000'], { logFile });
const pid = d.proc.pid;
let code = 1;
let maxRss = 0;
const sampler = setInterval(() => { try { maxRss = Math.max(maxRss, rssBytes(pid)); } catch {} }, 50);
try {
  // RSS at rest, after a few requests have warmed the threads up.
  for (let i = 0; i < 20; i++) await request(d.port, 'GET', '/health');
  const rest = rssBytes(pid);
  const cap = rest + THREADS * MAX_CONNS * 5 * 1024 + POOL + UNSENT_D + RSS_CAP_SLACK;
  console.log(`rss at rest ${(rest / 1048576).toFixed(1)} MiB, cap ${(cap / 1048576).toFixed(1)} MiB`);
  let memo = 0;
  // normal: the answers a normal client gets while an attack runs (a read and a transfer).
  async function normal(what, port = d.port) {
    const h = await request(port, 'GET', '/health');
    check(h.status === 200, `${what}: GET /health answered 200 (${h.status})`);
    const t = await request(port, 'POST', '/v1/transfers',
      { receiver_id: 'user-1.test.near', amount: '1', memo: `slow-${Date.now()}-${memo++}` });
    check(t.status === 202 || t.status === 200, `${what}: a transfer is accepted (${t.status} ${t.text})`);
  }

  // (a) 600 slowloris heads.
  {
    const as = [];
    const timers = [];
    for (let i = 0; i < 600; i++)
      as.push(attacker(d.port, '127.0.0.2', (a) => {
        a.sock.write('POST /v1/transfers HTTP/1.1\r\nHost: x\r\n');
        timers.push(setInterval(() => { if (!a.closed) a.sock.write('X-Slow: 1\r\n'); }, 200));
      }));
    await waitFor(() => as.filter((a) => a.connected || a.closed).length === 600, 'slowloris connects');
    await normal('(a) slowloris');
    await waitFor(() => closedCount(as) === 600, 'every slowloris connection closed');
    timers.forEach(clearInterval);
    check(closedCount(as) === 600, '(a) all 600 slowloris connections closed by the server');
    check(as.every((a) => a.bytes === 0), '(a) no slowloris head was answered as a request');
    check(await closedBy(d.port, 'head_timeout') >= 600, `(a) head_timeout counted ${await closedBy(d.port, 'head_timeout')}`);
  }

  // (b) clients that ask for large answers and do not read them.
  {
    const one = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
    const size = Buffer.byteLength((await request(d.port, 'GET', '/metrics')).text);
    const n = Math.ceil((64 << 20) / size); // asks for 64 MiB of answers: far beyond the socket buffers
    const as = [];
    for (let i = 0; i < 20; i++)
      as.push(attacker(d.port, '127.0.0.2', (a) => {
        a.sock.pause();
        a.sock.write(one.repeat(n));
      }));
    await waitFor(async () => (await closedBy(d.port, 'write_timeout')) >= 20, 'write timeouts for the 20 slow readers');
    await normal('(b) slow readers');
    for (const a of as) a.sock.resume();
    await waitFor(() => closedCount(as) === 20, 'slow readers closed');
    check(as.every((a) => a.bytes < n * size), `(b) every slow reader got less than it asked for (max ${Math.max(...as.map((a) => a.bytes))} of ${n * size})`);
  }

  // (c) 600 held 16 MB bodies.
  {
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const as = [];
    for (let i = 0; i < 600; i++)
      as.push(attacker(d.port, '127.0.0.2', (a) => {
        a.sock.write('POST /v1/transfers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
          'Content-Length: 16000000\r\n\r\n');
        a.sock.write(chunk);
      }));
    await waitFor(() => as.filter((a) => a.connected || a.closed).length === 600, 'held-body connects');
    await normal('(c) held bodies');
    await waitFor(() => closedCount(as) === 600, 'every held-body connection closed');
    const refused = as.filter((a) => a.data.startsWith('HTTP/1.1 503 ') && a.data.includes('body_pool_bytes') &&
      a.data.includes('Retry-After: 1\r\n'));
    check(refused.length >= 590, `(c) ${refused.length} of 600 got 503 + Retry-After naming body_pool_bytes`);
    check(await closedBy(d.port, 'body_rate') >= 1, '(c) the admitted bodies were closed by the minimum rate');
    const pool = await waitFor(async () => {
      const m = await metrics(d.port);
      return metricSum(m, 'nearft_ingest_body_pool_bytes') === 0 ? 'empty' : null;
    }, 'large buffers returned');
    check(pool === 'empty', '(c) no large buffer is held afterwards');
  }

  // (d) the per-address cap.
  {
    const as = [];
    // Each sends a whole request and then idles on keep-alive (no deadline closes those).
    const get = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    for (let i = 0; i < PER_IP; i++) as.push(attacker(d.port, '127.0.0.3', (a) => a.sock.write(get)));
    await waitFor(() => as.filter((a) => a.data.startsWith('HTTP/1.1 200 ')).length === PER_IP,
      'per-address connections answered');
    await waitFor(async () => {
      const m = await metrics(d.port);
      return metricSum(m, 'nearft_ingest_open_connections') >= PER_IP;
    }, 'the server counted them');
    // It sends nothing: the refusal is answered at the accept, before any request is read.
    const over = attacker(d.port, '127.0.0.3', () => {});
    await waitFor(() => over.closed, 'the connection over the cap closed');
    check(over.data.startsWith('HTTP/1.1 503 ') && over.data.includes('max_conns_per_ip'),
      `(d) over the cap: 503 naming max_conns_per_ip (${over.data.split('\r\n')[0]})`);
    await normal('(d) per-address cap');
    for (const a of as) a.sock.destroy();
    await waitFor(() => closedCount(as) === PER_IP, 'per-address attackers gone');
  }

  clearInterval(sampler);
  if (process.env.NF_SANITIZED === '1')
    console.log('sanitizer build: VmRSS is not checked against the cap (shadow memory, quarantine)');
  else check(maxRss <= cap, `VmRSS peak ${(maxRss / 1048576).toFixed(1)} MiB within the cap ${(cap / 1048576).toFixed(1)} MiB`);
  console.log(`rss peak ${(maxRss / 1048576).toFixed(1)} MiB`);

  // (e) unsent answers over --max-unsent-bytes.
  {
    const UNSENT = 64 << 10;
    const d2 = await startDaemon(nearftd, sim, join(sim.dir, 'data-unsent'), ['--ingest-threads',
      `${THREADS}`, '--write-timeout-ms', '3600000', '--max-unsent-bytes', `${UNSENT}`], { logFile });
    const as = [];
    try {
      const one = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n';
      const size = await wireBytes(d2.port, '/metrics');
      const h = await wireBytes(d2.port, '/health');
      // 64 MiB asked for is far beyond what a socket takes (tcp_wmem + tcp_rmem): each reader
      // leaves a part of an answer in memory, on average half of one once the cuts are spread.
      const n = Math.ceil((64 << 20) / size);
      const count = Math.min(400, Math.ceil((16 * UNSENT) / size)); // under the 512 per address
      for (let i = 0; i < count; i++) {
        const k = Math.round((i * size) / (count * h)); // shifts the cut by i/count of an answer
        as.push(attacker(d2.port, '127.0.0.2', (a) => {
          a.sock.pause();
          a.sock.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(k) + one.repeat(n));
        }));
      }
      try {
        await waitFor(async () => (await closedBy(d2.port, 'unsent')) >= 1,
          `resets for unsent answers over ${UNSENT} bytes (${count} readers of ${size}-byte answers)`);
      } catch (e) {
        // What the server and the kernel held when no reset came, for the record.
        const m = await metrics(d2.port);
        const lines = m.split('\n').filter((l) => /^nearft_ingest_(unsent_bytes|open_connections|connections_closed_total|requests_total)/.test(l));
        console.error(`(e) no reset: ${as.filter((a) => a.connected).length} readers connected, ` +
          `${closedCount(as)} closed\n${lines.join('\n')}\n${readFileSync('/proc/net/sockstat', 'utf8')}`);
        throw e;
      }
      await normal('(e) unsent cap', d2.port);
      // The gauge is refreshed every second; the readers not reset still hold their parts.
      const held = await waitFor(async () => {
        const v = metricSum(await metrics(d2.port), 'nearft_ingest_unsent_bytes');
        return v > 0 ? v : null;
      }, 'the unsent gauge refreshed');
      console.log(`(e) ${count} readers of ${size}-byte answers; ${held} bytes held after the resets`);
      check(held <= UNSENT + THREADS * (size + 4096),
        `(e) unsent answers held ${held} bytes: within the cap ${UNSENT} + one answer a thread`);
      // The reset reaches a paused socket once it reads again; the others read their answers.
      for (const a of as) a.sock.resume();
      await waitFor(() => closedCount(as) >= 1, 'a slow reader closed by its reset');
      check(closedCount(as) >= 1, `(e) ${closedCount(as)} slow readers reset`);
      for (const a of as) a.sock.destroy();
      await waitFor(async () => metricSum(await metrics(d2.port), 'nearft_ingest_unsent_bytes') === 0,
        'unsent answers freed');
    } finally {
      for (const a of as) a.sock.destroy();
      await d2.stop();
    }
  }
  code = 0;
} catch (e) {
  console.error(e);
  code = 1;
} finally {
  clearInterval(sampler);
  await d.stop();
  await sim.stop();
}
process.exit(keepOrClean(sim.dir, report('security_slow') || code));
