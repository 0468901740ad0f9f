// pulsar-flex 1.1.1 against Magnetar: Shared subscriptions with two consumers, negative acks
// (REDELIVER_UNACKNOWLEDGED_MESSAGES with message ids) and redelivery when a consumer closes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let broker;
before(async () => { broker = await h.startBroker(); });
after(async () => { if (broker) await broker.stop(); });

test('two Shared consumers: each message delivered to exactly one, all delivered', async () => {
  const topic = h.uniqueTopic('shared-split');
  const a = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED, { name: 'a' });
  const b = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED, { name: 'b' });
  const p = await h.createProducer(broker, topic);
  const sent = await h.sendN(p, 40, 'sh');
  await h.waitFor(() => a.received.length + b.received.length >= 40, '40 deliveries');
  await h.sleep(300);
  const all = [...a.received, ...b.received].map((r) => r.payload);
  assert.equal(all.length, 40, `duplicates: ${all.length}`);
  assert.deepEqual([...all].sort(), [...sent].sort());
  assert.ok(a.received.length > 0 && b.received.length > 0,
    `both consumers get messages (a=${a.received.length}, b=${b.received.length})`);
  // per consumer, order of production is kept
  for (const c of [a, b]) {
    const idx = c.received.map((r) => +r.properties.idx);
    assert.deepEqual(idx, [...idx].sort((x, y) => x - y));
  }
  await p.close();
  await h.closeConsumer(a);
  await h.closeConsumer(b);
});

test('negative ack redelivers the message with redeliveryCount incremented', async () => {
  const topic = h.uniqueTopic('shared-nack');
  let nacked = 0;
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED, {
    onMessage: async (rec, ack) => {
      if (rec.payload === 'n-2' && nacked < 2) {
        nacked++;
        await ack({ type: h.Consumer.ACK_TYPES.NEGATIVE });
      } else {
        await ack();
      }
    },
  });
  const p = await h.createProducer(broker, topic);
  await h.sendN(p, 5, 'n');
  await h.waitFor(() => c.received.filter((r) => r.payload === 'n-2').length >= 3, 'n-2 delivered three times');
  await h.sleep(300);
  const n2 = c.received.filter((r) => r.payload === 'n-2').map((r) => r.redeliveryCount);
  assert.deepEqual(n2, [0, 1, 2]);
  const others = c.received.filter((r) => r.payload !== 'n-2');
  assert.deepEqual(others.map((r) => r.payload).sort(), ['n-0', 'n-1', 'n-3', 'n-4']);
  for (const r of others) assert.equal(r.redeliveryCount, 0);
  await p.close();
  await h.closeConsumer(c);
});

test('unacked messages of a closed Shared consumer go to the other one; acked ones do not', async () => {
  const topic = h.uniqueTopic('shared-close');
  // a acks nothing, b acks everything
  const a = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED, { name: 'a', onMessage: async () => {} });
  const b = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED, { name: 'b' });
  const p = await h.createProducer(broker, topic);
  const sent = await h.sendN(p, 20, 'sc');
  await h.waitFor(() => a.received.length + b.received.length >= 20, '20 deliveries');
  await h.sleep(200);
  const heldByA = a.received.map((r) => r.payload);
  assert.ok(heldByA.length > 0, 'a got some messages');
  const bBefore = b.received.length;
  await h.closeConsumer(a);
  await h.waitFor(() => b.received.length >= bBefore + heldByA.length, 'a\'s messages at b');
  await h.sleep(300);
  const again = b.received.slice(bBefore);
  assert.deepEqual(again.map((r) => r.payload).sort(), [...heldByA].sort());
  for (const r of again) assert.ok(r.redeliveryCount >= 1, `redeliveryCount ${r.redeliveryCount}`);
  assert.deepEqual([...new Set(b.received.map((r) => r.payload))].sort(), [...sent].sort());
  await p.close();
  await h.closeConsumer(b);
});

test('ack then reconnect: nothing acked comes back', async () => {
  const topic = h.uniqueTopic('shared-reconnect');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED);
  const p = await h.createProducer(broker, topic);
  await h.sendN(p, 10, 'ar');
  await h.waitFor(() => c.received.length >= 10, '10 messages');
  await h.sleep(200);
  await h.closeConsumer(c);
  const c2 = await h.createConsumer(broker, topic, 'sub', h.SUB.SHARED, { name: 'again' });
  await p.sendMessage({ payload: 'new' });
  await h.waitFor(() => c2.received.length >= 1, 'the new message');
  await h.sleep(300);
  assert.deepEqual(c2.received.map((r) => r.payload), ['new']);
  await p.close();
  await h.closeConsumer(c2);
});
