/**
 * The client side of the tunnelled paths, standing in for the source node agent: a plaintext
 * TCP listener whose every connection becomes one HBONE tunnel (pooled mTLS HTTP/2 sessions) to
 * `--via` with CONNECT target `--authority`. The load generators talk to it, so the L4-only and
 * waypoint paths are measured the same way. Run inside the client namespace:
 * `node dist/bench/l7/forwarder-main.js --listen 127.0.0.1:PORT --via IP:15008
 *  --authority IP:PORT --peer SPIFFE_ID --sa client --dir CERTDIR`. Prints `ready`; exits on SIGTERM.
 */
import net from 'node:net';

import { HboneClient, pipeTunnel } from '../../common/hbone/index.ts';
import { applyAgentV8Flags } from '../../node-agent/v8-flags.ts';
import { peerVerifier } from './identities.ts';
import { addressArg, readArgs, readIdentity } from './process-args.ts';

// The heap settings of the node agent this process stands in for (node-agent/v8-flags.ts).
applyAgentV8Flags();
const args = readArgs(['listen', 'via', 'authority', 'peer', 'sa', 'dir']);
const listen = addressArg('listen', args.listen);
const id = readIdentity(args.dir, args.sa);
const client = new HboneClient();
const open = {
  via: addressArg('via', args.via),
  authority: args.authority,
  tls: id.client,
  verifyServer: peerVerifier(id.bundle, 'server', args.peer),
};
const noop = (): undefined => undefined;

const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
  socket.once('error', noop);
  client.open(open).then(
    (tunnel) => pipeTunnel(tunnel.stream, socket, noop),
    (err: unknown) => {
      process.stderr.write(`tunnel to ${args.authority} via ${args.via} failed: ${String(err)}\n`);
      socket.destroy();
    },
  );
});
server.listen(listen.port, listen.host, () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => {
  server.close();
  void client.close().finally(() => process.exit(0));
});
