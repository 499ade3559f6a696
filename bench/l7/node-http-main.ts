/**
 * A plain Node `http` reverse proxy, the calibration row of the `l7` bench: issue 6 sets the L7
 * engine's saturation target at 0.6× nginx because "a plain Node `http` proxy reached about
 * 0.6× here". This is that proxy, measured in the same run and place as the engine and nginx, so
 * a reader can see what the machine of the run gives it. It does less than either: no route
 * table, no header rules, no access log; every request goes to `--target` over a keep-alive
 * agent, bodies piped both ways, 502 when the target fails. Run inside the proxy namespace,
 * compiled: `node dist/bench/l7/node-http-main.js --listen IP:PORT --target IP:PORT`.
 * Prints `ready`; exits on SIGTERM.
 */
import http from 'node:http';

import { addressArg, readArgs } from './process-args.ts';

const args = readArgs(['listen', 'target']);
const listen = addressArg('listen', args.listen);
const target = addressArg('target', args.target);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  const upstream = http.request(
    { host: target.host, port: target.port, method: req.method, path: req.url, headers: req.headers, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.once('error', (err) => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-type': 'text/plain' }).end(`upstream failed: ${err.message}\n`);
  });
  req.pipe(upstream);
});
server.listen(listen.port, listen.host, () => process.stdout.write('ready\n'));
process.once('SIGTERM', () => {
  server.close();
  agent.destroy();
  process.exit(0);
});
