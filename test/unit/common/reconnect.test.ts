// RenewingClient: a channel is replaced only once it has been connecting for the whole timeout,
// also when grpc-js's deadline timer fires early (it runs from the event loop's cached time).
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { describe, it } from 'mocha';
import { RenewingClient } from '../../../common/reconnect.ts';

type Watcher = (err?: Error) => void;

/** A client whose channel stays CONNECTING and hands its deadline callbacks to the test. */
class FakeClient {
  closed = false;
  readonly watches: { deadline: number; callback: Watcher }[] = [];

  getChannel(): unknown {
    return {
      getConnectivityState: () =>
        this.closed ? grpc.connectivityState.SHUTDOWN : grpc.connectivityState.CONNECTING,
      watchConnectivityState: (_state: unknown, deadline: number, callback: Watcher) => {
        this.watches.push({ deadline, callback });
      },
    };
  }

  close(): void {
    this.closed = true;
  }
}

function renewing(
  timeoutMs: number,
  credentials: () => grpc.ChannelCredentials = () => INSECURE,
): {
  renewer: RenewingClient<grpc.Client>;
  made: FakeClient[];
  renewals: number[];
  madeWith: grpc.ChannelCredentials[];
} {
  const made: FakeClient[] = [];
  const renewals: number[] = [];
  const madeWith: grpc.ChannelCredentials[] = [];
  const renewer = new RenewingClient<grpc.Client>({
    credentials,
    make: (_pool, creds) => {
      const c = new FakeClient();
      made.push(c);
      madeWith.push(creds);
      return c as unknown as grpc.Client;
    },
    connectTimeoutMs: timeoutMs,
    onRenew: (ms) => renewals.push(ms),
  });
  return { renewer, made, renewals, madeWith };
}

const INSECURE = grpc.credentials.createInsecure();

describe('common/reconnect: RenewingClient', () => {
  it('renews a channel still connecting at its deadline, with how long it was stuck', async () => {
    const { renewer, made, renewals } = renewing(30);
    const first = made[0];
    assert.ok(first !== undefined);
    await new Promise((r) => setTimeout(r, 40));
    first.watches[0]?.callback(new Error('Deadline passed without connectivity state change'));
    assert.equal(made.length, 2, 'a new channel');
    assert.equal(first.closed, true, 'the stuck one closed');
    assert.equal(renewer.current, made[1]);
    assert.equal(renewals.length, 1);
    assert.ok((renewals[0] ?? 0) >= 30, `stuck ${renewals[0]} ms`);
    renewer.close();
  });

  it('waits out the rest when the deadline fires early, then renews', async () => {
    const { renewer, made, renewals } = renewing(50);
    const first = made[0];
    assert.ok(first !== undefined);
    const deadline = first.watches[0]?.deadline ?? 0;
    // A timer set late in a long event-loop turn fires that much before the deadline.
    first.watches[0]?.callback(new Error('Deadline passed without connectivity state change'));
    assert.equal(made.length, 1, 'not renewed before the timeout');
    assert.equal(renewals.length, 0);
    assert.equal(first.watches.length, 2, 'watching again');
    assert.equal(first.watches[1]?.deadline, deadline, 'for the same deadline');
    await new Promise((r) => setTimeout(r, 60));
    first.watches[1]?.callback(new Error('Deadline passed without connectivity state change'));
    assert.equal(made.length, 2, 'renewed once the timeout has passed');
    assert.ok((renewals[0] ?? 0) >= 50, `stuck ${renewals[0]} ms`);
    renewer.close();
  });

  it('moves to a new channel only when the credentials changed since the channel was made', () => {
    let creds = INSECURE;
    const { renewer, made, madeWith, renewals } = renewing(60_000, () => creds);
    assert.equal(renewer.renewIfStale(), false, 'same credentials: same channel');
    assert.equal(made.length, 1);
    creds = grpc.credentials.createInsecure();
    assert.equal(renewer.renewIfStale(), true);
    assert.equal(made.length, 2);
    assert.equal(made[0]?.closed, true, 'the old channel closed');
    assert.equal(renewer.current, made[1]);
    assert.equal(madeWith[1], creds, 'made with the new credentials');
    assert.equal(renewer.renewIfStale(), false);
    assert.deepEqual(renewals, [], 'not counted as a stuck connect');
    renewer.close();
    creds = grpc.credentials.createInsecure();
    assert.equal(renewer.renewIfStale(), false, 'nothing after close()');
    assert.equal(made.length, 2);
  });

  it('does not renew after close()', async () => {
    const { renewer, made } = renewing(10);
    renewer.close();
    await new Promise((r) => setTimeout(r, 20));
    made[0]?.watches[0]?.callback(new Error('Deadline passed without connectivity state change'));
    assert.equal(made.length, 1);
  });
});
