// pulsar-flex 1.1.1 against Magnetar with token authentication and authorization on
// (authenticationEnabled, AuthenticationProviderToken with an HS256 secret key,
// authorizationEnabled, superUserRoles=admin). pulsar-flex sends its `jwt` option as CONNECT's
// auth_method_name "token" and auth_data; a broker refusal (CommandError AuthenticationError)
// makes create()/subscribe() reject with PulsarFlexConnectionError, an AuthorizationError on the
// lookup with PulsarFlexTopicLookupError. Tokens are minted here with node's crypto.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as h from './harness.mjs';

/** A compact HS256 JWT of `claims` signed with `key` (a Buffer). */
function mintHS256(key, claims) {
  const part = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${part(claims)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}

/** Resolve as p does, or reject with a 'test timeout' error after ms, so no case can hang. */
function within(p, ms, what) {
  let t;
  const timer = new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`test timeout: ${what}`)), ms); });
  return Promise.race([p, timer]).finally(() => clearTimeout(t));
}

/** p must reject, with an error named `name`, well before the test's own timeout. */
async function refused(p, name, what) {
  await assert.rejects(within(p, 8000, what), (e) => {
    assert.doesNotMatch(String(e.message), /^test timeout/, `${what}: hung instead of failing`);
    assert.equal(e.name, name, `${what}: ${e.name}: ${e.message}`);
    return true;
  });
}

const secret = randomBytes(32);
const keyDir = mkdtempSync(join(tmpdir(), 'mg-compat-auth-'));
const now = Math.floor(Date.now() / 1000);
const adminJwt = mintHS256(secret, { sub: 'admin' });
const otherKeyJwt = mintHS256(randomBytes(32), { sub: 'admin' });
const expiredJwt = mintHS256(secret, { sub: 'admin', exp: now - 60 });
const aliceJwt = mintHS256(secret, { sub: 'alice', exp: now + 3600 });

let broker;
before(async () => {
  writeFileSync(join(keyDir, 'secret.key'), secret);
  broker = await h.startBroker({
    config: [
      'authenticationEnabled=true',
      'authenticationProviders=org.apache.pulsar.broker.authentication.AuthenticationProviderToken',
      `tokenSecretKey=file://${join(keyDir, 'secret.key')}`,
      'authorizationEnabled=true',
      'superUserRoles=admin',
    ],
  });
});
after(async () => {
  rmSync(keyDir, { recursive: true, force: true });
  if (broker) await broker.stop();
});

test("the superuser's token: produce and consume", async () => {
  const topic = h.uniqueTopic('auth-ok');
  const c = await within(h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, { jwt: adminJwt }),
    8000, 'subscribe with token');
  const p = await within(h.createProducer(broker, topic, { jwt: adminJwt }), 8000, 'create with token');
  const sent = await h.sendN(p, 10, 'tok');
  await h.waitFor(() => c.received.length >= 10, '10 messages');
  assert.deepEqual(c.received.map((r) => r.payload), sent);
  await p.close();
  await h.closeConsumer(c);
});

test('no token: producer and consumer fail to connect', async () => {
  const topic = h.uniqueTopic('auth-none');
  await refused(h.createProducer(broker, topic), 'PulsarFlexConnectionError', 'producer without jwt');
  await refused(h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE), 'PulsarFlexConnectionError',
    'consumer without jwt');
});

test('a token signed by another key, or expired: producer and consumer fail to connect', async () => {
  const topic = h.uniqueTopic('auth-bad');
  for (const [jwt, what] of [[otherKeyJwt, 'other key'], [expiredJwt, 'expired']]) {
    await refused(h.createProducer(broker, topic, { jwt }), 'PulsarFlexConnectionError', `producer, ${what}`);
    await refused(h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, { jwt }),
      'PulsarFlexConnectionError', `consumer, ${what}`);
  }
});

test('a valid token of a role without grants: refused at the lookup (AuthorizationError)', async () => {
  const topic = h.uniqueTopic('auth-alice');
  await refused(h.createProducer(broker, topic, { jwt: aliceJwt }), 'PulsarFlexTopicLookupError',
    'producer as alice');
  await refused(h.createConsumer(broker, topic, 'sub', h.SUB.EXCLUSIVE, { jwt: aliceJwt }),
    'PulsarFlexTopicLookupError', 'consumer as alice');
});
