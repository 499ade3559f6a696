/**
 * The start both captured directions share: a connection the pod's iptables rules redirected to
 * 15001 (outbound) or 15006 (plaintext inbound) gets its original destination from the socket and
 * a flow; without an original destination it is reset (logged), as nothing can be done with it.
 */
import type { Socket } from 'node:net';
import { errorMessage } from '../../common/errors.ts';
import { originalDst, socketFd } from '../native/index.ts';
import type { Address } from '../state/index.ts';
import { ignoreError, type PodContext } from './context.ts';
import { addressOf, Flow, type FlowInfo } from './flow.ts';

/** The redirected connection's original destination and flow; undefined once it is reset. */
export function acceptRedirected(
  ctx: PodContext,
  socket: Socket,
  direction: FlowInfo['direction'],
): { dst: Address; flow: Flow } | undefined {
  socket.on('error', ignoreError);
  let dst: Address;
  try {
    const d = originalDst(socketFd(socket));
    dst = { ip: d.address, port: d.port };
  } catch (err) {
    ctx.agent.log.warn(`${direction} connection without an original destination`, {
      pod: ctx.name,
      error: errorMessage(err),
    });
    socket.resetAndDestroy();
    return undefined;
  }
  const flow = new Flow(
    ctx.agent,
    {
      direction,
      pod: ctx.name,
      sourceAddress: addressOf(socket.remoteAddress, socket.remotePort),
      destinationAddress: addressOf(dst.ip, dst.port),
    },
    ctx.flows,
    socket,
  );
  return { dst, flow };
}
