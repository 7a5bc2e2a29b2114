/**
 * Security: protected mode (no non-loopback listener without a token), AUTH on the binary and RESP
 * ports (required first, wrong tokens, pre-auth limits, failure limit), constant-time comparison, the client
 * and the CLI status with a token.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ServerStats } from '../src/server/server-stats';
import { once } from 'node:events';
import { Client } from '../src/client/client';
import { AuthError, ConfigError } from '../src/errors';
import { encodeRequest } from '../src/protocol/encoder';
import { Opcode, Status, HEADER_SIZE } from '../src/protocol/constants';
import { writeRequestHeader } from '../src/protocol/encoder';
import { Authenticator, tokensEqual, PREAUTH_MAX_REQUEST_BYTES } from '../src/net/auth';
import { resolveNodeOptions } from '../src/server/node-options';
import { closeAllNodes, startTestNode } from './helpers/node';
import { RawPeer } from './helpers/raw-socket';
import { RespReplyError, RespTestClient, closeAllClients, text } from './helpers/resp-client';
import { killAllChildren, runCli, waitForLog } from './helpers/cli';

const TOKEN = 'correct-horse-battery-staple';
const Security = suite('security');
const clients: Client[] = [];
const peers: RawPeer[] = [];

Security.after.each(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(clients.splice(0).map((client) => client.close()));
  closeAllClients();
  await closeAllNodes();
  killAllChildren();
});

async function peer(port: number): Promise<RawPeer> {
  const p = await RawPeer.connect(port);
  peers.push(p);
  return p;
}

const request = (opcode: number, requestId: number, key: string | null = null, value: Buffer | string | null = null) =>
  encodeRequest({ opcode, requestId, key, value });
const serverStats = (node: { stats(): Record<string, unknown> }) => node.stats().server as unknown as ServerStats;

Security('tokensEqual compares in constant time over digests: equal, unequal, different lengths', () => {
  assert.ok(tokensEqual('secret', 'secret'));
  assert.ok(tokensEqual(Buffer.from('secret'), 'secret'));
  assert.not.ok(tokensEqual('secret', 'secreT'));
  assert.not.ok(tokensEqual('secret', 'secret-but-longer'));
  assert.not.ok(tokensEqual('', 'x'));
  const auth = new Authenticator('tok');
  assert.ok(auth.required);
  assert.ok(auth.check(Buffer.from('tok')));
  assert.not.ok(auth.check(Buffer.from('tok2')));
  assert.not.ok(auth.check(Buffer.alloc(0)));
  const none = new Authenticator(undefined);
  assert.not.ok(none.required);
  assert.not.ok(none.check(Buffer.from('tok')));
});

Security('protected mode: a non-loopback address without a token is refused before listening', () => {
  for (const options of [
    { addr: '0.0.0.0:0' },
    { addr: '127.0.0.1:0', respAddr: '0.0.0.0:0' },
    { addr: '[::]:0' },
    { addr: '10.1.2.3:7000' },
  ]) {
    try {
      resolveNodeOptions(options);
      assert.unreachable(`${JSON.stringify(options)} should be refused`);
    } catch (error) {
      assert.instance(error, ConfigError);
      assert.match((error as Error).message, /--auth-token/);
      assert.match((error as Error).message, /--insecure-no-auth/);
    }
  }
  // Loopback addresses, a token, or the explicit opt-out pass.
  resolveNodeOptions({ addr: ':0' });
  resolveNodeOptions({ addr: '127.0.0.2:0', respAddr: 'localhost:0' });
  resolveNodeOptions({ addr: '[::1]:0' });
  resolveNodeOptions({ addr: '0.0.0.0:0', authToken: TOKEN });
  resolveNodeOptions({ addr: '0.0.0.0:0', insecureNoAuth: true });
  assert.throws(() => resolveNodeOptions({ authToken: '' }), /must not be empty/);
  assert.throws(() => resolveNodeOptions({ authToken: 'has space' }), /spaces/);
});

Security('protected mode in the CLI: exit 2 with the fix; a token from the environment starts it', async () => {
  const refused = runCli(['--addr', '0.0.0.0:0']);
  assert.is(await refused.exited, 2);
  assert.match(refused.stderr(), /refusing to listen on 0\.0\.0\.0:0/);
  assert.match(refused.stderr(), /--auth-token TOKEN or the DCACHE_AUTH_TOKEN/);
  assert.not.match(refused.stderr(), /listening on/);

  const started = runCli(['--addr', '0.0.0.0:0', '--advertise', '127.0.0.1:1'], { DCACHE_AUTH_TOKEN: TOKEN });
  await waitForLog(started, /listening on 0\.0\.0\.0:\d+/);
  started.child.kill('SIGTERM');
  assert.is(await started.exited, 0);
});

Security('--insecure-no-auth starts on 0.0.0.0 (port 0, closed at once)', async () => {
  const node = await startTestNode({ addr: '0.0.0.0:0', advertise: '127.0.0.1:1', insecureNoAuth: true });
  assert.is(node.host, '0.0.0.0');
  await node.close();
});

Security('binary: only AUTH before authenticating; wrong token refused; right token opens the rest', async () => {
  const node = await startTestNode({ authToken: TOKEN });
  const p = await peer(node.port);
  p.write(
    Buffer.concat([
      request(Opcode.GET, 1, 'k'),
      request(Opcode.PING, 2),
      request(Opcode.AUTH, 3, null, 'wrong'),
      request(Opcode.AUTH, 4, null, TOKEN),
      request(Opcode.GET, 5, 'k'),
      request(Opcode.PING, 6),
    ]),
  );
  const responses = await p.waitForResponses(6);
  assert.equal(
    responses.map((r) => [r.requestId, r.status]),
    [
      [1, Status.AUTH_REQUIRED],
      [2, Status.AUTH_REQUIRED],
      [3, Status.AUTH_REQUIRED],
      [4, Status.OK],
      [5, Status.NOT_FOUND],
      [6, Status.OK],
    ],
  );
  assert.match(responses[0]!.value.toString(), /authentication required/);
  assert.match(responses[2]!.value.toString(), /invalid auth token/);
  const stats = serverStats(node);
  assert.is(stats.authFailures, 1);
  assert.is(stats.authSuccesses, 1);
  assert.is(stats.authRequiredRejections, 2);
});

Security('binary: AUTH and a large SET in one write: the frame after AUTH is not held to the pre-auth limit', async () => {
  const node = await startTestNode({ authToken: TOKEN });
  const p = await peer(node.port);
  const big = Buffer.alloc(200 * 1024, 7);
  p.write(Buffer.concat([request(Opcode.AUTH, 1, null, TOKEN), request(Opcode.SET, 2, 'big', big), request(Opcode.GET, 3, 'big')]));
  const responses = await p.waitForResponses(3);
  assert.equal(
    responses.map((r) => r.status),
    [Status.OK, Status.OK, Status.OK],
  );
  assert.ok(responses[2]!.value.equals(big));
});

Security('binary: a frame over 16 KiB before AUTH closes the connection on its header, body never sent', async () => {
  const node = await startTestNode({ authToken: TOKEN });
  const p = await peer(node.port);
  const header = Buffer.alloc(HEADER_SIZE);
  writeRequestHeader(header, 0, Opcode.SET, 0, 9, 1, PREAUTH_MAX_REQUEST_BYTES, 0); // key 1 + value 16 KiB
  p.write(header);
  await p.closed;
  assert.is(p.responses[0]?.status, Status.FRAME_TOO_LARGE);
  assert.match(p.responses[0]!.value.toString(), /before AUTH/);
  assert.is(serverStats(node).preauthFrameTooLarge, 1);
  // Exactly at the limit is allowed (and refused for want of AUTH).
  const q = await peer(node.port);
  q.write(request(Opcode.SET, 1, 'k', Buffer.alloc(PREAUTH_MAX_REQUEST_BYTES - 1)));
  assert.is((await q.waitForResponses(1))[0]!.status, Status.AUTH_REQUIRED);
});

Security('binary: 3 wrong tokens are answered, a 4th closes the connection', async () => {
  const node = await startTestNode({ authToken: TOKEN });
  const p = await peer(node.port);
  p.write(Buffer.concat([1, 2, 3].map((id) => request(Opcode.AUTH, id, null, `guess-${id}`))));
  assert.equal(
    (await p.waitForResponses(3)).map((r) => r.status),
    [Status.AUTH_REQUIRED, Status.AUTH_REQUIRED, Status.AUTH_REQUIRED],
  );
  assert.ok(!p.socket.destroyed);
  p.write(Buffer.concat([request(Opcode.AUTH, 4, null, 'guess-4'), request(Opcode.AUTH, 5, null, TOKEN)]));
  await p.closed;
  assert.is(p.responses.length, 4);
  assert.match(p.responses[3]!.value.toString(), /closing/);
  const stats = serverStats(node);
  assert.is(stats.authFailures, 4);
  assert.is(stats.authFailureDisconnects, 1);
  assert.is(stats.authSuccesses, 0);
});

Security('binary: without a token configured AUTH is accepted (clients can get the token first)', async () => {
  const node = await startTestNode();
  const p = await peer(node.port);
  p.write(Buffer.concat([request(Opcode.AUTH, 1, null, 'anything'), request(Opcode.AUTH, 2, 'key-not-allowed', 'x')]));
  assert.equal(
    (await p.waitForResponses(2)).map((r) => r.status),
    [Status.OK, Status.BAD_ARGUMENT],
  );
});

Security('client: authToken authenticates every connection; a wrong or missing token fails with AuthError', async () => {
  const node = await startTestNode({ authToken: TOKEN });
  const good = new Client({ nodes: [node.address], authToken: TOKEN, routing: 'proxy' });
  clients.push(good);
  await good.set('a', '1');
  assert.is(String(await good.get('a')), '1');

  const wrong = new Client({ nodes: [node.address], authToken: 'nope', routing: 'proxy' });
  clients.push(wrong);
  const error = await wrong.get('a').then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, AuthError);
  assert.is((error as AuthError).code, 'ERR_AUTH');
  assert.match((error as Error).message, /authentication to .* failed/);
  // Later requests fail fast with the same typed error while it backs off.
  assert.instance(
    await wrong.get('a').then(
      () => undefined,
      (e: unknown) => e,
    ),
    AuthError,
  );

  const missing = new Client({ nodes: [node.address], routing: 'proxy' });
  clients.push(missing);
  const refused = await missing.get('a').then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(refused, AuthError);
  assert.match((refused as Error).message, /authentication required/);
});

Security('client reconnects and re-authenticates after the server closes its connection', async () => {
  const node = await startTestNode({ authToken: TOKEN, idleTimeoutMs: 100 });
  const client = new Client({ nodes: [node.address], authToken: TOKEN, routing: 'proxy' });
  clients.push(client);
  await client.set('x', 'y');
  await once(client, 'disconnect'); // idle-kicked
  assert.is(String(await client.get('x')), 'y');
  assert.ok(serverStats(node).authSuccesses >= 2);
});

Security('RESP: NOAUTH before AUTH (PING too), WRONGPASS, AUTH <token>, AUTH default <token>, HELLO 2 AUTH', async () => {
  const node = await startTestNode({ authToken: TOKEN, respAddr: '127.0.0.1:0' });
  const c = await RespTestClient.connect(node.respPort!);
  assert.is(await c.err('PING'), 'NOAUTH Authentication required.');
  assert.is(await c.err('GET', 'k'), 'NOAUTH Authentication required.');
  assert.match(await c.err('HELLO', '2'), /^NOAUTH HELLO must be called with the client already authenticated/);
  assert.is(await c.err('AUTH', 'wrong'), 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.is(await c.call('AUTH', TOKEN), 'OK');
  assert.is(await c.call('PING'), 'PONG');
  assert.is(await c.call('SET', 'k', 'v'), 'OK');

  const d = await RespTestClient.connect(node.respPort!);
  assert.is(await d.err('AUTH', 'alice', TOKEN), 'WRONGPASS invalid username-password pair or user is disabled.');
  assert.is(await d.call('AUTH', 'default', TOKEN), 'OK');
  assert.is(await d.str('GET', 'k'), 'v');

  const e = await RespTestClient.connect(node.respPort!);
  assert.is(await e.err('HELLO', '2', 'AUTH', 'default', 'bad'), 'WRONGPASS invalid username-password pair or user is disabled.');
  const hello = text(await e.call('HELLO', '2', 'AUTH', 'default', TOKEN)) as unknown[];
  assert.is(hello.length, 14);
  assert.is(await e.str('GET', 'k'), 'v');
});

Security('RESP: a command over 16 KiB before AUTH closes; 4 wrong passwords close; both counted', async () => {
  const node = await startTestNode({ authToken: TOKEN, respAddr: '127.0.0.1:0' });
  const c = await RespTestClient.connect(node.respPort!);
  c.send('AUTH', 'x'.repeat(PREAUTH_MAX_REQUEST_BYTES + 1));
  const [reply] = await c.take(1);
  assert.instance(reply, RespReplyError);
  assert.match((reply as Error).message, /^ERR Protocol error/);
  await c.closedWithin(2000);

  const d = await RespTestClient.connect(node.respPort!);
  for (let i = 0; i < 3; i++) assert.match(await d.err('AUTH', `guess${i}`), /^WRONGPASS/);
  assert.ok(d.isOpen);
  assert.match(await d.err('AUTH', 'guess3'), /^WRONGPASS/);
  await d.closedWithin(2000);

  // After AUTH, big commands are fine.
  const e = await RespTestClient.connect(node.respPort!);
  assert.is(await e.call('AUTH', TOKEN), 'OK');
  assert.is(await e.call('SET', 'big', 'v'.repeat(100_000)), 'OK');
});

Security('CLI status takes --auth-token (and DCACHE_AUTH_TOKEN); without it, it fails with the reason', async () => {
  const node = await startTestNode({ authToken: TOKEN });
  const ok = runCli(['status', '--server', node.address, '--auth-token', TOKEN]);
  assert.is(await ok.exited, 0);
  assert.match(ok.stdout(), /\(self\)\s+alive/);
  const env = runCli(['status', '--server', node.address], { DCACHE_AUTH_TOKEN: TOKEN });
  assert.is(await env.exited, 0);
  const refused = runCli(['status', '--server', node.address], { DCACHE_AUTH_TOKEN: '' });
  assert.is(await refused.exited, 1);
  assert.match(refused.stderr(), /authentication required/);
});

Security.run();
