/**
 * A TCP relay on 127.0.0.1 whose first connection is a black hole (accepted, never answered) and
 * whose later ones are piped to `targetPort`: what a client sees when its SYN goes to a Service
 * address still translated to a pod that is gone, and a new connection is translated afresh.
 */
import net from 'node:net';

/** A running relay; `held` are the black-holed sockets. */
export interface BlackHoleRelay {
  readonly port: number;
  readonly held: readonly net.Socket[];
  close(): void;
}

/** Starts a relay in front of `targetPort` (loopback). */
export async function blackHoleFirst(targetPort: number): Promise<BlackHoleRelay> {
  const held: net.Socket[] = [];
  const relay = net.createServer((socket) => {
    if (held.length === 0) {
      held.push(socket);
      return;
    }
    const upstream = net.connect(targetPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  return {
    port: (relay.address() as net.AddressInfo).port,
    held,
    close: () => {
      for (const s of held) s.destroy();
      relay.close();
    },
  };
}
