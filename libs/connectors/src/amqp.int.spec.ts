import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { AmqpConnection } from '@laneway/proto';
import amqp from 'amqplib';
import pino from 'pino';
import type { Channel, ChannelModel, GetMessage } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError } from './connection-error';
import { Connectors } from './connectors';

const amqpSpec = (fields: Partial<AmqpConnection>): { amqp: AmqpConnection } => ({
  amqp: { url: 'amqp://guest@127.0.0.1:5672', password: 'guest', passwordSet: true, confirm: true, caPem: '', ...fields },
});

describe('Connectors: AMQP', () => {
  const id = randomBytes(5).toString('hex');
  const exchange = `lw-test-${id}`;
  const queue = `lw-test-${id}`;
  let model: ChannelModel;
  let channel: Channel;

  beforeAll(async () => {
    model = await amqp.connect('amqp://guest:guest@127.0.0.1:5672');
    channel = await model.createChannel();
    await channel.assertExchange(exchange, 'direct', { durable: false, autoDelete: false });
    await channel.assertQueue(queue, { durable: false, autoDelete: false });
    await channel.bindQueue(queue, exchange, 'orders');
  });

  afterAll(async () => {
    await channel.deleteQueue(queue);
    await channel.deleteExchange(exchange);
    await model.close();
  });

  async function take(): Promise<GetMessage> {
    for (let i = 0; i < 50; i++) {
      const msg = await channel.get(queue, { noAck: true });
      if (msg) return msg;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`nothing arrived on ${queue}`);
  }

  it('publishes with confirms (JSON, text, bytes) and the bound queue receives them', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'events', version: 'v1', spec: amqpSpec({}) }]);
    try {
      const events = connectors.amqp('events');
      await events.publish(exchange, 'orders', { id: 7 }, { headers: { 'x-source': 'test' }, persistent: true });
      const json = await take();
      expect(JSON.parse(json.content.toString())).toEqual({ id: 7 });
      expect(json.properties.contentType).toBe('application/json');
      expect(json.properties.headers).toMatchObject({ 'x-source': 'test' });
      expect(json.properties.deliveryMode).toBe(2);

      await events.publish(exchange, 'orders', 'plain');
      const text = await take();
      expect(text.content.toString()).toBe('plain');
      expect(text.properties.contentType).toBe('text/plain');

      await events.publish(exchange, 'orders', new Uint8Array([1, 2, 3]), { contentType: 'application/x-bytes' });
      const bytes = await take();
      expect([...bytes.content]).toEqual([1, 2, 3]);
      expect(bytes.properties.contentType).toBe('application/x-bytes');
    } finally {
      await connectors.close();
    }
  });

  it('rejects a publish the broker refuses, then publishes again on a new channel', async () => {
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([{ name: 'events', version: 'v1', spec: amqpSpec({}) }]);
    try {
      const err = (await connectors
        .amqp('events')
        .publish(`${exchange}-missing`, 'orders', { id: 1 })
        .catch((e: unknown) => e)) as ConnectionError;
      expect(err).toBeInstanceOf(ConnectionError);
      expect(err.message).toContain(`connection 'events' (amqp amqp://127.0.0.1:5672): publish to exchange '${exchange}-missing'`);
      expect(err.message).toContain('NOT_FOUND');
      await connectors.amqp('events').publish(exchange, 'orders', { id: 2 });
      expect(JSON.parse((await take()).content.toString())).toEqual({ id: 2 });
    } finally {
      await connectors.close();
    }
  });

  it('publishes without confirms, and moves to new settings under load without failing a publish', async () => {
    const connectors = new Connectors({ server: 'replica-1', drainTimeoutMs: 5_000 });
    connectors.replace([{ name: 'events', version: 'v1', spec: amqpSpec({ confirm: false }) }]);
    try {
      const publishes: Promise<void>[] = [];
      for (let i = 0; i < 40; i++) {
        if (i === 20) connectors.replace([{ name: 'events', version: 'v2', spec: amqpSpec({ confirm: true }) }]);
        publishes.push(connectors.amqp('events').publish(exchange, 'orders', { i }));
      }
      await Promise.all(publishes);
      await connectors.whenDrained();
      const got: number[] = [];
      for (let i = 0; i < 40; i++) got.push((JSON.parse((await take()).content.toString()) as { i: number }).i);
      expect(got.sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    } finally {
      await connectors.close();
    }
  });

  it('reconnects on the next publish after the broker dropped the connection', async () => {
    const server = `replica-${id}`;
    const logged: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => logged.push(line) });
    const connectors = new Connectors({ server, log });
    connectors.replace([{ name: 'events', version: 'v1', spec: amqpSpec({}) }]);
    try {
      await connectors.amqp('events').publish(exchange, 'orders', { n: 1 });
      expect(JSON.parse((await take()).content.toString())).toEqual({ n: 1 });
      const listing = execFileSync('rabbitmqctl', ['-q', 'list_connections', 'pid', 'client_properties'], { encoding: 'utf8' });
      const line = listing.split('\n').find((l) => l.includes(`laneway ${server} events`));
      expect(line).toBeDefined();
      execFileSync('rabbitmqctl', ['-q', 'close_connection', line!.split('\t')[0]!, 'test drops it'], { stdio: 'ignore' });
      for (let i = 0; i < 50 && !logged.some((l) => l.includes('amqp connection closed')); i++) await new Promise((r) => setTimeout(r, 20));
      expect(logged.join('')).toContain('CONNECTION_FORCED');
      await connectors.amqp('events').publish(exchange, 'orders', { n: 2 });
      expect(JSON.parse((await take()).content.toString())).toEqual({ n: 2 });
    } finally {
      await connectors.close();
    }
  });

  it('test() opens a channel; a wrong password or a closed port fail without the password', async () => {
    const wrong = `nope-${randomBytes(4).toString('hex')}`;
    const connectors = new Connectors({ server: 'replica-1' });
    connectors.replace([
      { name: 'ok', version: 'v1', spec: amqpSpec({}) },
      { name: 'badpw', version: 'v1', spec: amqpSpec({ password: wrong }) },
      { name: 'down', version: 'v1', spec: amqpSpec({ url: 'amqp://guest@127.0.0.1:1', password: 'amqp-secret-1' }) },
    ]);
    try {
      expect(await connectors.test('ok', 5_000)).toMatchObject({ ok: true });
      const bad = await connectors.test('badpw', 5_000);
      expect(bad).toMatchObject({ ok: false, error: expect.stringContaining("connection 'badpw' (amqp amqp://127.0.0.1:5672): authentication failed") });
      expect(!bad.ok && bad.error).not.toContain(wrong);
      const down = await connectors.test('down', 5_000);
      expect(down).toMatchObject({ ok: false, error: expect.stringContaining("connection 'down' (amqp amqp://127.0.0.1:1): connection refused") });
      const err = (await connectors.amqp('down').publish(exchange, 'orders', 'x').catch((e: unknown) => e)) as ConnectionError;
      expect(err.code).toBe('REFUSED');
      expect(err.message).not.toContain('amqp-secret-1');
    } finally {
      await connectors.close();
    }
  });
});
