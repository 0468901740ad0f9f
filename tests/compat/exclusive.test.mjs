// pulsar-flex 1.1.1 against Magnetar: Exclusive subscriptions, properties, batches, acks and
// redelivery after reconnect. pulsar-flex always subscribes at Latest, so every test subscribes
// before producing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let broker;
before(async () => { broker = await h.startBroker(); });
after(async () => { if (broker) await broker.stop(); });

test('produce then consume in order, properties round trip', async () => {
  const topic = h.uniqueTopic('excl-order');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE);
  const p = await h.createProducer(broker, topic);
  const sent = [];
  for (let i = 0; i < 20; i++) {
    const payload = `order-${i}`;
    await p.sendMessage({ payload, properties: { idx: String(i), 'k ü': `v-${i}`, empty: '' } });
    sent.push(payload);
  }
  await h.waitFor(() => c.received.length >= 20, '20 messages');
  assert.deepEqual(c.received.map((r) => r.payload), sent);
  c.received.forEach((r, i) => {
    assert.deepEqual(r.properties, { idx: String(i), 'k ü': `v-${i}`, empty: '' });
    assert.equal(r.redeliveryCount, 0);
    assert.equal(r.metadata.producerName.length > 0, true, 'producer_name assigned by broker');
  });
  // message ids strictly increase
  for (let i = 1; i < c.received.length; i++) {
    const a = c.received[i - 1].messageId, b = c.received[i].messageId;
    assert.ok(b.ledgerid > a.ledgerid || (b.ledgerid === a.ledgerid && b.entryid > a.entryid));
  }
  await p.close();
  await h.closeConsumer(c);
});

test('binary payload round trips byte for byte', async () => {
  const topic = h.uniqueTopic('excl-bin');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE);
  const p = await h.createProducer(broker, topic);
  const payload = Buffer.alloc(70000);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 31 + 7) & 0xff;
  await p.sendMessage({ payload });
  await h.waitFor(() => c.received.length >= 1, 'binary message');
  assert.ok(c.received[0].raw.equals(payload), 'payload bytes differ');
  await p.close();
  await h.closeConsumer(c);
});

test('a batch from sendBatch arrives as its single messages with their properties', async () => {
  const topic = h.uniqueTopic('excl-batch');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE);
  const p = await h.createProducer(broker, topic);
  const messages = Array.from({ length: 5 }, (_, i) => ({ payload: `b-${i}`, properties: { pos: String(i) } }));
  await p.sendBatch({ messages });
  await p.sendMessage({ payload: 'after-batch' });
  await h.waitFor(() => c.received.length >= 6, '6 messages');
  assert.deepEqual(c.received.map((r) => r.payload), ['b-0', 'b-1', 'b-2', 'b-3', 'b-4', 'after-batch']);
  c.received.slice(0, 5).forEach((r, i) => assert.deepEqual(r.properties, { pos: String(i) }));
  await p.close();
  await h.closeConsumer(c);
});

test('a new subscription starts at Latest (pulsar-flex sends no initialPosition)', async () => {
  const topic = h.uniqueTopic('excl-latest');
  const p = await h.createProducer(broker, topic);
  await h.sendN(p, 3, 'before');
  const c = await h.createConsumer(broker, topic, 'late-sub', h.SUB.EXCLUSIVE);
  await h.sendN(p, 3, 'after');
  await h.waitFor(() => c.received.length >= 3, '3 messages');
  await h.sleep(300);
  assert.deepEqual(c.received.map((r) => r.payload), ['after-0', 'after-1', 'after-2']);
  await p.close();
  await h.closeConsumer(c);
});

test('a second Exclusive consumer on the same subscription is refused', async () => {
  const topic = h.uniqueTopic('excl-busy');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE);
  const c2 = new h.Consumer({
    topic, subscription: 'sub', subType: h.SUB.EXCLUSIVE, consumerName: 'second',
    discoveryServers: [broker.serviceUrl], logLevel: 0, reconnectInterval: 60000,
  });
  await assert.rejects(c2.subscribe(), (e) => e.name === 'PulsarFlexSubscribeError');
  c2._client.getCnx().close();
  await h.closeConsumer(c);
});

test('ack waits for ACK_RESPONSE; acked messages are not redelivered, unacked ones are', async () => {
  const topic = h.uniqueTopic('excl-redeliver');
  const ackMs = [];
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, {
    onMessage: async (rec, ack) => {
      const i = +rec.properties.idx;
      if (i % 2 === 0) {
        const t0 = Date.now();
        await ack(); // pulsar-flex resolves this only on ACK_RESPONSE with its request id
        ackMs.push(Date.now() - t0);
      }
    },
  });
  const p = await h.createProducer(broker, topic);
  const sent = await h.sendN(p, 10, 'r');
  await h.waitFor(() => c.received.length >= 10 && ackMs.length >= 5, '10 messages, 5 acks');
  assert.ok(Math.max(...ackMs) < 2000, `ack responses took ${ackMs}`);
  await h.closeConsumer(c);

  const c2 = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, { name: 'again' });
  await h.waitFor(() => c2.received.length >= 5, '5 redelivered messages');
  await h.sleep(300);
  assert.deepEqual(c2.received.map((r) => r.payload), sent.filter((_, i) => i % 2 === 1));
  for (const r of c2.received) assert.ok(r.redeliveryCount >= 1, `redeliveryCount ${r.redeliveryCount}`);

  // all acked now: a third consumer gets nothing old, only new messages
  await h.closeConsumer(c2);
  const c3 = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, { name: 'third' });
  await p.sendMessage({ payload: 'fresh' });
  await h.waitFor(() => c3.received.length >= 1, 'fresh message');
  await h.sleep(300);
  assert.deepEqual(c3.received.map((r) => r.payload), ['fresh']);
  await p.close();
  await h.closeConsumer(c3);
});

test('cumulative ack acknowledges everything up to the message', async () => {
  const topic = h.uniqueTopic('excl-cumul');
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, {
    onMessage: async (rec, ack) => {
      if (rec.payload === 'cu-5') await ack({ type: h.Consumer.ACK_TYPES.CUMULATIVE });
    },
  });
  const p = await h.createProducer(broker, topic);
  const sent = await h.sendN(p, 8, 'cu');
  await h.waitFor(() => c.received.length >= 8, '8 messages');
  await h.sleep(200);
  await h.closeConsumer(c);
  const c2 = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, { name: 'again' });
  await h.waitFor(() => c2.received.length >= 2, '2 redelivered messages');
  await h.sleep(300);
  assert.deepEqual(c2.received.map((r) => r.payload), sent.slice(6));
  await p.close();
  await h.closeConsumer(c2);
});

test('negative ack on Exclusive: every unacked message comes back, then all get acked', async () => {
  // pulsar-flex drops its local receive queue on a negative ack for Exclusive/Failover and relies
  // on the broker redelivering *all* unacked messages of the consumer (as Pulsar does).
  const topic = h.uniqueTopic('excl-nack');
  const acked = new Set();
  let nacked = false;
  const c = await h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, {
    onMessage: async (rec, ack) => {
      if (rec.payload === 'nx-3' && !nacked) {
        nacked = true;
        await ack({ type: h.Consumer.ACK_TYPES.NEGATIVE });
        return;
      }
      await ack();
      acked.add(rec.payload);
    },
  });
  const p = await h.createProducer(broker, topic);
  const sent = await h.sendN(p, 10, 'nx');
  await h.waitFor(() => acked.size >= 10, 'all 10 acked');
  const n3 = c.received.filter((r) => r.payload === 'nx-3');
  assert.ok(n3.length >= 2, 'nx-3 redelivered');
  assert.ok(n3.at(-1).redeliveryCount >= 1, `redeliveryCount ${n3.at(-1).redeliveryCount}`);
  assert.deepEqual([...acked].sort(), [...sent].sort());
  await p.close();
  await h.closeConsumer(c);
});
