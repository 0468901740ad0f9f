// Harness for the pulsar-flex compatibility tests: starts a Magnetar broker on free ports with a
// temporary data dir, and wraps pulsar-flex's Producer/Consumer with small helpers.
//
// MAGNETAR_BIN: broker binary (default build/bin/magnetar relative to the repo root).
// MG_COMPAT_VERBOSE=1: forward the broker's stderr and pulsar-flex's WARN+ logs to stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..');
const require = createRequire(import.meta.url);
const flex = require('pulsar-flex');
export const { Producer, Consumer } = flex;
export const SUB = Consumer.SUB_TYPES;

// pulsar-flex arms a 10 s response timer per request and never clears it, which keeps node alive
// for up to 10 s after the last request. Same logic here, with the timer unref'd.
{
  const RM = require('pulsar-flex/src/responseMediators/abstract/responseMediator.js');
  const { PulsarFlexResponseTimeoutError } = require('pulsar-flex/src/errors');
  RM.prototype.response = function response({ data, autoResolve }) {
    const id = this._idFunc(this._parseCommand(data));
    return new Promise((res, rej) => {
      if (autoResolve) res();
      setTimeout(() => rej(new PulsarFlexResponseTimeoutError({ id })), this._timeout).unref();
      this._requests[id] = { resolve: res, reject: rej };
    });
  };
}
const verbose = !!process.env.MG_COMPAT_VERBOSE;
const LOG_LEVEL = verbose ? flex.logLevel.WARN : flex.logLevel.NOTHING;

// Every pulsar-flex client created here, so that teardown can stop them even after a failed test:
// pulsar-flex reconnects forever (lookup retry every 10 s) once its broker is gone.
const live = new Set();

function dispose(client) {
  live.delete(client);
  try {
    if (client instanceof Consumer) {
      client._setState(Consumer.CONSUMER_STATES.UNSUBSCRIBED); // disarms its reconnect
      client._cleanState();
    } else {
      client._created = false; // disarms the producer's reconnect
      client._connected = false;
    }
    client._client.getCnx()?.close();
  } catch { /* best effort */ }
}

/** Stop every client still open (called by broker.stop()). */
export function disposeAll() {
  for (const c of [...live]) dispose(c);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Start a broker; resolves to { port, webPort, serviceUrl, dataDir, stop() }. `config`: extra
 * broker.conf lines ("key=value"), written to a file passed with -c (none: no -c, the defaults).
 */
export async function startBroker({ timeoutMs = 10000, config = [] } = {}) {
  const bin = process.env.MAGNETAR_BIN
    ? resolve(process.env.MAGNETAR_BIN)
    : join(repoRoot, 'build', 'bin', 'magnetar');
  if (!existsSync(bin)) throw new Error(`broker binary not found: ${bin} (set MAGNETAR_BIN)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'mg-compat-'));
  const args = ['standalone', '--data-dir', dataDir, '--port', '0', '--web-port', '0'];
  let confFile = null;
  if (config.length) {
    confFile = `${dataDir}.broker.conf`;
    writeFileSync(confFile, `${config.join('\n')}\n`);
    args.splice(1, 0, '-c', confFile);
  }
  const child = spawn(bin, args, {
    stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'ignore'],
  });
  let exited = false;
  const exitP = new Promise((r) => child.once('exit', (code, sig) => { exited = true; r({ code, sig }); }));

  const ready = await new Promise((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error('broker did not print its ready line in time')), timeoutMs);
    child.stdout.on('data', (d) => {
      buf += d.toString();
      const m = buf.match(/magnetar ready brokerServicePort=(\d+) webServicePort=(\d+)/);
      if (m) { clearTimeout(timer); res({ port: +m[1], webPort: +m[2] }); }
    });
    exitP.then(({ code, sig }) => { clearTimeout(timer); rej(new Error(`broker exited early (code ${code}, signal ${sig})`)); });
  });
  child.stdout.resume();

  return {
    ...ready,
    dataDir,
    serviceUrl: `127.0.0.1:${ready.port}`,
    async stop() {
      disposeAll();
      if (confFile) rmSync(confFile, { force: true });
      // Last resort against a client stuck in a retry loop: leave the event loop anyway.
      setTimeout(() => process.exit(), 15000).unref();
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        const { code, sig } = await exitP;
        clearTimeout(t);
        rmSync(dataDir, { recursive: true, force: true });
        return { code, sig };
      }
      rmSync(dataDir, { recursive: true, force: true });
      return exitP;
    },
  };
}

let topicSeq = 0;
/** A fresh persistent topic name for each call. */
export function uniqueTopic(prefix = 'flex') {
  return `persistent://public/default/${prefix}-${process.pid}-${Date.now()}-${topicSeq++}`;
}

/** A created pulsar-flex Producer; opts.jwt: the token sent in CONNECT (none by default). */
export async function createProducer(broker, topic, { jwt } = {}) {
  const p = new Producer({
    topic,
    discoveryServers: [broker.serviceUrl],
    jwt,
    producerAccessMode: Producer.ACCESS_MODES.SHARED,
    logLevel: LOG_LEVEL,
  });
  live.add(p);
  await p.create();
  return p;
}

/**
 * A pulsar-flex Consumer that records every delivery in `received` ({ payload, properties,
 * redeliveryCount, messageId, metadata }). `onMessage(rec, ack)` decides about acks; by default
 * every message is acked (explicit ack, not pulsar-flex's autoAck). opts.jwt: the token sent in
 * CONNECT (none by default).
 */
export async function createConsumer(broker, topic, subscription, subType, opts = {}) {
  const { name = `c-${subscription}`, onMessage, receiveQueueSize = 100, jwt } = opts;
  const c = new Consumer({
    topic,
    subscription,
    subType,
    consumerName: name,
    discoveryServers: [broker.serviceUrl],
    jwt,
    receiveQueueSize,
    logLevel: LOG_LEVEL,
  });
  const received = [];
  live.add(c);
  await c.subscribe();
  await c.run({
    autoAck: false,
    onMessage: async ({ ack, message, properties, redeliveryCount, command, metadata }) => {
      const rec = {
        payload: message.toString(),
        raw: Buffer.from(message),
        properties,
        redeliveryCount: redeliveryCount ?? 0,
        messageId: command.messageId,
        metadata,
      };
      received.push(rec);
      if (onMessage) await onMessage(rec, ack);
      else await ack();
    },
  });
  return { consumer: c, received, name };
}

/** Close a consumer (pulsar-flex's "unsubscribe" sends CLOSE_CONSUMER and closes the socket). */
export async function closeConsumer(h) {
  await h.consumer.unsubscribe();
  live.delete(h.consumer);
}

/** Whether the broker binary is built with UBSan/ASan (the Makefile's default test build). */
export function brokerIsSanitized() {
  const bin = process.env.MAGNETAR_BIN
    ? resolve(process.env.MAGNETAR_BIN)
    : join(repoRoot, 'build', 'bin', 'magnetar');
  try {
    return readFileSync(bin).includes('__ubsan_handle');
  } catch {
    return false;
  }
}

/** Poll `pred` every 20 ms until true; throws with `what` after timeoutMs. */
export async function waitFor(pred, what, timeoutMs = 8000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (pred()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function sendN(producer, n, prefix = 'm') {
  const sent = [];
  for (let i = 0; i < n; i++) {
    const payload = `${prefix}-${i}`;
    await producer.sendMessage({ payload, properties: { idx: String(i) } });
    sent.push(payload);
  }
  return sent;
}
