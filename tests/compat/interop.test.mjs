// Interop between libmagnetar (through the magnetar-client and magnetar-perf tools) and pulsar-flex
// 1.1.1 on one Magnetar broker: plain, uncompressed payloads, properties and keys, both ways,
// single messages and batches. pulsar-flex subscribes at Latest, so its consumers subscribe first.
//
// Tools: MG_BUILD_DIR/bin/magnetar-client (else next to MAGNETAR_BIN, else build/bin).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as h from './harness.mjs';

const here = dirname(fileURLToPath(import.meta.url));

function tool(name) {
  const dirs = [];
  if (process.env.MG_BUILD_DIR) dirs.push(join(resolve(process.env.MG_BUILD_DIR), 'bin'));
  if (process.env.MAGNETAR_BIN) dirs.push(dirname(resolve(process.env.MAGNETAR_BIN)));
  dirs.push(join(here, '..', '..', 'build', 'bin'));
  for (const d of dirs) if (existsSync(join(d, name))) return join(d, name);
  throw new Error(`${name} not found in ${dirs.join(', ')} (set MG_BUILD_DIR)`);
}

/** Run a tool; resolves to { code, stdout, stderr }, rejects on a timeout. */
function run(bin, args, timeoutMs = 10000) {
  return new Promise((res, rej) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && err.killed) return rej(new Error(`${bin} ${args.join(' ')} timed out\n${stderr}`));
      res({ code: err ? err.code : 0, stdout, stderr });
    });
  });
}

/**
 * Parse magnetar-client consume's pulsar-client-style output:
 *   ----- got message -----
 *   key:[K], properties:[a=1, b=2], content:PAYLOAD
 * ("properties:[...], " is left out when a message has none; "key:[null]" when it has no key).
 */
function parseConsumed(stdout) {
  const out = [];
  const lines = stdout.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '----- got message -----') continue;
    const m = lines[i + 1].match(/^key:\[(.*?)\], (?:properties:\[(.*?)\], )?content:(.*)$/);
    assert.ok(m, `unparsable line: ${lines[i + 1]}`);
    const properties = {};
    if (m[2]) for (const kv of m[2].split(', ')) {
      const eq = kv.indexOf('=');
      properties[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    out.push({ key: m[1] === 'null' ? null : m[1], properties, payload: m[3] });
  }
  return out;
}

let broker, client, perf, url;
before(async () => {
  client = tool('magnetar-client');
  perf = tool('magnetar-perf');
  broker = await h.startBroker();
  url = `pulsar://127.0.0.1:${broker.port}`;
});
after(async () => { if (broker) await broker.stop(); });

test('libmagnetar -> pulsar-flex: payloads, properties and the key (metadata.partitionKey)', async () => {
  const topic = h.uniqueTopic('ix-c2f');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE);
  const payloads = Array.from({ length: 10 }, (_, i) => `c2f-${i}`);
  const r = await run(client, ['--url', url, 'produce', topic, '-m', payloads.join(','), '-n', '2',
    '-k', 'partner-42', '-p', 'event_type=PartnerRegistrationCompleted', '-p', 'source=magnetar-client',
    '-z', 'none']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /20 messages successfully produced/);
  const want = [...payloads, ...payloads];
  await h.waitFor(() => c.received.length >= want.length, `${want.length} messages`);
  await h.sleep(200);
  assert.deepEqual(c.received.map((m) => m.payload), want);
  for (const m of c.received) {
    assert.deepEqual(m.properties, { event_type: 'PartnerRegistrationCompleted', source: 'magnetar-client' });
    // pulsar-flex exposes MessageMetadata.toObject(): the key is metadata.partitionKey
    assert.equal(m.metadata.partitionKey, 'partner-42');
    assert.equal(m.metadata.compression ?? 0, 0, 'uncompressed');
    assert.equal(m.redeliveryCount, 0);
  }
  await h.closeConsumer(c);
});

test('pulsar-flex -> libmagnetar: payloads and properties (pulsar-flex sets no key)', async () => {
  const topic = h.uniqueTopic('ix-f2c');
  const p = await h.createProducer(broker, topic);
  const n = 15;
  for (let i = 0; i < n; i++)
    await p.sendMessage({ payload: `f2c-${i}`, properties: { idx: String(i), origin: 'pulsar-flex', empty: '' } });
  await p.close();
  const r = await run(client, ['--url', url, 'consume', topic, '-s', 'ix-sub', '-p', 'Earliest', '-n', String(n)]);
  assert.equal(r.code, 0, r.stderr);
  const got = parseConsumed(r.stdout);
  assert.equal(got.length, n);
  got.forEach((m, i) => {
    assert.equal(m.payload, `f2c-${i}`);
    assert.deepEqual(m.properties, { idx: String(i), origin: 'pulsar-flex', empty: '' });
    assert.equal(m.key, null);
  });
});

test('batched: pulsar-flex sendBatch -> libmagnetar splits it into its messages', async () => {
  const topic = h.uniqueTopic('ix-fbatch');
  const p = await h.createProducer(broker, topic);
  await p.sendBatch({ messages: Array.from({ length: 8 }, (_, i) => ({ payload: `fb-${i}`, properties: { pos: String(i) } })) });
  await p.sendBatch({ messages: Array.from({ length: 4 }, (_, i) => ({ payload: `fb2-${i}`, properties: { pos: String(i), second: 'yes' } })) });
  await p.close();
  const r = await run(client, ['--url', url, 'consume', topic, '-s', 'ix-sub', '-p', 'Earliest', '-n', '12']);
  assert.equal(r.code, 0, r.stderr);
  const got = parseConsumed(r.stdout);
  assert.deepEqual(got.map((m) => m.payload), [
    ...Array.from({ length: 8 }, (_, i) => `fb-${i}`), ...Array.from({ length: 4 }, (_, i) => `fb2-${i}`)]);
  got.forEach((m, i) => assert.deepEqual(m.properties, i < 8 ? { pos: String(i) } : { pos: String(i - 8), second: 'yes' }));
});

test('batched: a batching libmagnetar producer (magnetar-perf) -> pulsar-flex, keys per message', async () => {
  // magnetar-client sends synchronously (one message per batch); magnetar-perf sends
  // asynchronously with batching on, so its batches carry many messages.
  const topic = h.uniqueTopic('ix-cbatch');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE);
  const n = 60;
  const r = await run(perf, ['produce', topic, '-u', url, '-r', '0', '-m', String(n), '-s', '26',
    '-b', '50', '-bm', '20', '-k', 'key-', '-z', 'none', '-time', '2']);
  assert.equal(r.code, 0, r.stderr);
  await h.waitFor(() => c.received.length >= n, `${n} messages`);
  await h.sleep(200);
  assert.equal(c.received.length, n);
  const entries = new Set();
  c.received.forEach((m, i) => {
    assert.equal(m.payload, 'abcdefghijklmnopqrstuvwxyz');
    assert.equal(m.metadata.partitionKey, `key-${i}`, 'SingleMessageMetadata.partition_key');
    entries.add(`${m.messageId.ledgerid}:${m.messageId.entryid}`);
  });
  assert.ok(entries.size < n, `messages were batched (${entries.size} entries for ${n} messages)`);
  assert.ok(entries.size >= n / 20, 'at most 20 messages per batch (-bm 20)');
  await h.closeConsumer(c);
});
