// pulsar-flex 1.1.1 against Magnetar: Failover subscriptions. pulsar-flex ignores
// ACTIVE_CONSUMER_CHANGE, so the test finds the active consumer by who receives messages.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as h from './harness.mjs';

let broker;
before(async () => { broker = await h.startBroker(); });
after(async () => { if (broker) await broker.stop(); });

test('only the active consumer receives; on close the standby gets the unacked ones', async () => {
  const topic = h.uniqueTopic('failover');
  // each consumer acks the first half of what it sees and keeps the rest unacked
  const keepUnacked = async (rec, ack) => { if (+rec.properties.idx < 10) await ack(); };
  const a = await h.createConsumer(broker, topic, 'sub', h.SUB.FAILOVER, { name: 'a', onMessage: keepUnacked });
  const b = await h.createConsumer(broker, topic, 'sub', h.SUB.FAILOVER, { name: 'b', onMessage: keepUnacked });
  const p = await h.createProducer(broker, topic);
  const sent = await h.sendN(p, 20, 'fo');
  await h.waitFor(() => a.received.length + b.received.length >= 20, '20 deliveries');
  await h.sleep(300);
  const [active, standby] = a.received.length > 0 ? [a, b] : [b, a];
  assert.equal(standby.received.length, 0, 'the standby consumer received nothing');
  assert.deepEqual(active.received.map((r) => r.payload), sent, 'the active consumer got all, in order');

  await h.closeConsumer(active);
  await h.waitFor(() => standby.received.length >= 10, 'the 10 unacked messages at the standby');
  await h.sleep(300);
  assert.deepEqual(standby.received.map((r) => r.payload), sent.slice(10));
  for (const r of standby.received) assert.ok(r.redeliveryCount >= 1, `redeliveryCount ${r.redeliveryCount}`);

  // the new active consumer gets new messages too
  await p.sendMessage({ payload: 'later', properties: { idx: '0' } });
  await h.waitFor(() => standby.received.length >= 11, 'a new message at the new active consumer');
  assert.equal(standby.received.at(-1).payload, 'later');
  await p.close();
  await h.closeConsumer(standby);
});

test('a second consumer joining later: no duplicates, new messages go to one consumer only', async () => {
  const topic = h.uniqueTopic('failover-join');
  const a = await h.createConsumer(broker, topic, 'sub', h.SUB.FAILOVER, { name: 'a' });
  const p = await h.createProducer(broker, topic);
  const first = await h.sendN(p, 5, 'x');
  await h.waitFor(() => a.received.length >= 5, '5 messages');
  assert.deepEqual(a.received.map((r) => r.payload), first);
  const b = await h.createConsumer(broker, topic, 'sub', h.SUB.FAILOVER, { name: 'b' });
  const second = await h.sendN(p, 5, 'y');
  await h.waitFor(() => a.received.length + b.received.length >= 10, '10 deliveries');
  await h.sleep(300);
  const all = [...a.received, ...b.received].map((r) => r.payload);
  assert.deepEqual(all.sort(), [...first, ...second].sort(), 'every message delivered exactly once');
  const ysAtA = a.received.filter((r) => r.payload.startsWith('y')).length;
  assert.ok(ysAtA === 0 || ysAtA === 5, `second round split between consumers (a got ${ysAtA} of 5)`);
  await p.close();
  await h.closeConsumer(a);
  await h.closeConsumer(b);
});
