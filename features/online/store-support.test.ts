import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeadlineExceeded, raceDeadline } from './store-support.js';

/** Blocks the event loop, as a GC pause or a burst of other requests' work does. */
function stall(ms: number) {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // busy
  }
}

describe('raceDeadline', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => {
    for (const close of cleanup.splice(0)) close();
  });

  it('settles with the work when it answers in time', async () => {
    await expect(raceDeadline(Promise.resolve('answer'), 50)).resolves.toBe('answer');
  });

  it('rejects with DeadlineExceeded when the work never answers', async () => {
    const started = performance.now();
    const error = await raceDeadline(new Promise(() => {}), 20).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceeded);
    expect(performance.now() - started).toBeGreaterThanOrEqual(19);
  });

  it('passes the work rejection through', async () => {
    await expect(raceDeadline(Promise.reject(new Error('store down')), 50)).rejects.toThrow(
      'store down',
    );
  });

  it('lets a reply that arrived during a stall of this process win over the late timer', async () => {
    // A real socket: the peer's bytes sit in the kernel while this process is stalled past the
    // deadline. Node runs due timers before it polls sockets; the deadline must not count our
    // own stall against the store.
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => server.close());
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect((server.address() as AddressInfo).port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    await new Promise<void>((resolve) => client.once('connect', resolve));
    const peer = await accepted;
    cleanup.push(() => peer.destroy());

    const reply = new Promise<string>((resolve) =>
      client.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    const raced = raceDeadline(reply, 5);
    peer.write('features'); // in the client's receive buffer within microseconds (loopback)
    stall(40);
    await expect(raced).resolves.toBe('features');
  });
});
