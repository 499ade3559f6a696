/**
 * The calibration path of the `l4` benchmark: one side of a pair of plain Node TCP relays, no
 * TLS and no HTTP/2, only `net` sockets piped both ways. Two of them, placed as the stunnel pair
 * is, show what any two Node processes on a request's path add on the machine of the run, so
 * that the agents' added p99 can be read against it. Compiled like the agent and run with its V8
 * flags, inside the pod's namespace: `node dist/bench/l4/relay-process.js <listen ip:port>
 * <connect ip:port>`; prints `ready` once listening; the lab kills it with its namespace.
 */
import { connect, createServer, type Socket } from 'node:net';

import { parseAuthority, type HostPort } from '../../common/hbone/authority.ts';
import { applyAgentV8Flags } from '../../node-agent/v8-flags.ts';

function hostPort(arg: string | undefined, what: string): HostPort {
  const hp = parseAuthority(arg);
  if (hp === undefined) throw new Error(`relay-process: ${what} must be ip:port, got ${String(arg)}`);
  return hp;
}

function relay(client: Socket, target: HostPort): void {
  const upstream = connect({ ...target, noDelay: true, allowHalfOpen: true });
  client.setNoDelay(true);
  client.pipe(upstream);
  upstream.pipe(client);
  client.on('error', () => upstream.destroy());
  upstream.on('error', () => client.destroy());
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());
}

applyAgentV8Flags();
const listen = hostPort(process.argv[2], 'the listen address');
const target = hostPort(process.argv[3], 'the connect address');
const server = createServer({ allowHalfOpen: true }, (client) => relay(client, target));
server.listen(listen.port, listen.host, () => process.stdout.write('ready\n'));
