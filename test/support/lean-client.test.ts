import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../harness/free-port.js';
import { createLeanClientPool, createLeanDecisionClient } from './lean-client.js';

/** A real HTTP server answering as the API does: 200 with features, or 503 with Retry-After. */
let server: http.Server;
let baseUrl: string;
const seen: { authorization?: string; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ authorization: req.headers.authorization, body });
      const { status } = JSON.parse(body) as { status: number };
      const answer =
        status === 200
          ? JSON.stringify({
              decision: 'approved',
              features: { served_by: 'redis+dynamodb', fallback_reason: 'miss' },
            })
          : JSON.stringify({ error: { code: 'stores_unavailable' } });
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer),
        'server-timing': 'features;dur=0.100, model;dur=0.010, total;dur=0.250',
        ...(status === 503 ? { 'retry-after': '1' } : {}),
      });
      // Headers and body in separate writes: the client must reassemble what TCP splits.
      res.flushHeaders();
      setTimeout(() => res.end(answer), 2);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('lean benchmark client', () => {
  it('reads status, store, fallback reason and Server-Timing from a split answer', async () => {
    const client = createLeanDecisionClient(baseUrl, { apiKey: 'k' });
    try {
      const ok = await client.decide({ status: 200 });
      expect(ok).toMatchObject({
        status: 200,
        servedBy: 'redis+dynamodb',
        fallbackReason: 'miss',
        serverMs: 0.25,
        retryAfter: null,
      });
      expect(ok.ms).toBeGreaterThan(0);
      const unavailable = await client.decide({ status: 503 });
      expect(unavailable).toMatchObject({ status: 503, servedBy: null, retryAfter: '1' });
      expect(seen.at(-1)).toEqual({ authorization: 'Bearer k', body: '{"status":503}' });
    } finally {
      client.close();
    }
  });

  it('a pool answers concurrent requests, each with its own reply', async () => {
    const pool = createLeanClientPool(baseUrl, { connections: 3 });
    try {
      const statuses = [200, 503, 200, 200, 503, 200, 503, 200];
      const replies = await Promise.all(statuses.map((status) => pool.decide({ status })));
      expect(replies.map((r) => r.status)).toEqual(statuses);
    } finally {
      pool.close();
    }
  });

  it('a refused connection is status 0 with the error, not a throw', async () => {
    const client = createLeanDecisionClient(`http://127.0.0.1:${await freePort()}`);
    const reply = await client.decide({ status: 200 });
    expect(reply.status).toBe(0);
    expect(reply.error).toMatch(/ECONNREFUSED/);
    client.close();
  });
});
