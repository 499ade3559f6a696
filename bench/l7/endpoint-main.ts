/**
 * The backend side of the tunnelled paths, standing in for the destination node agent: an HBONE
 * server (mTLS, the pod's identity) that connects each tunnel to its CONNECT target and pipes
 * bytes both ways. Run inside the backend namespace:
 * `node dist/bench/l7/endpoint-main.js --listen IP:15008 --sa web --dir CERTDIR`.
 * Prints `ready` once listening; exits on SIGTERM.
 */
import net from 'node:net';

import { createHboneServer, pipeTunnel } from '../../common/hbone/index.ts';
import { applyAgentV8Flags } from '../../node-agent/v8-flags.ts';
import { addressArg, readArgs, readIdentity } from './process-args.ts';
import { peerVerifier } from './identities.ts';

// The heap settings of the node agent this process stands in for (node-agent/v8-flags.ts).
applyAgentV8Flags();
const args = readArgs(['listen', 'sa', 'dir']);
const listen = addressArg('listen', args.listen);
const id = readIdentity(args.dir, args.sa);
const noop = (): undefined => undefined;

const server = createHboneServer({
  tls: id.server,
  verifyPeer: peerVerifier(id.bundle, 'client'),
  onTunnel: (tunnel) => {
    const app = net.connect({
      host: tunnel.authority.host,
      port: tunnel.authority.port,
      allowHalfOpen: true,
      noDelay: true,
    });
    app.once('connect', () => pipeTunnel(tunnel.accept(), app, noop));
    app.once('error', (err) => {
      if (!tunnel.settled) tunnel.refuse(503, err.message);
    });
  },
});
await server.listen(listen);
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void server.close({ deadlineMs: 0 }).finally(() => process.exit(0));
});
