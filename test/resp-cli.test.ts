/**
 * redis-cli against the RESP port: PING, SET/GET, INFO, and command lines typed as a user would (redis-cli
 * splits them itself, quotes included). Skipped with a message when redis-cli is not installed
 * (Debian/Ubuntu: apt-get install redis-tools).
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { closeAllRespServers, startRespTestServer } from './helpers/resp-server';

const hasRedisCli = spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status === 0;
if (!hasRedisCli) console.log('resp-cli: redis-cli is not installed (apt-get install redis-tools): skipping the redis-cli tests');

const children = new Set<ChildProcess>();

/** Runs redis-cli with args (and optional stdin); resolves with its stdout and exit code. Killed by PID in cleanup. */
async function redisCli(port: number, args: string[], input?: string): Promise<{ stdout: string; code: number | null }> {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stdin!.end(input ?? '');
  const [code] = (await once(child, 'exit')) as [number | null];
  children.delete(child);
  return { stdout, code };
}

const Cli = suite('resp via redis-cli');

Cli.after.each(async () => {
  for (const child of children) if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  children.clear();
  await closeAllRespServers();
});

if (hasRedisCli) {
  Cli('PING, SET/GET, errors, nil', async () => {
    const t = await startRespTestServer();
    assert.is((await redisCli(t.port, ['PING'])).stdout, 'PONG\n');
    assert.is((await redisCli(t.port, ['SET', 'greeting', 'hello world'])).stdout, 'OK\n');
    assert.is((await redisCli(t.port, ['GET', 'greeting'])).stdout, 'hello world\n');
    assert.is((await redisCli(t.port, ['--no-raw', 'GET', 'missing'])).stdout, '(nil)\n');
    assert.is((await redisCli(t.port, ['INCRBY', 'n', '5'])).stdout, '5\n');
    assert.match((await redisCli(t.port, ['NOSUCH'])).stdout, /ERR unknown command 'NOSUCH', with args beginning with:/);
  });

  Cli('INFO prints the sections', async () => {
    const t = await startRespTestServer();
    await redisCli(t.port, ['SET', 'a', '1']);
    const { stdout, code } = await redisCli(t.port, ['INFO']);
    assert.is(code, 0);
    assert.match(stdout, /# Server\r?\n/);
    assert.match(stdout, /redis_version:7\.2\.0/);
    assert.match(stdout, /db0:keys=1,expires=0,avg_ttl=0/);
    assert.match((await redisCli(t.port, ['INFO', 'keyspace'])).stdout, /^# Keyspace\r?\ndb0:keys=1/);
  });

  Cli('command lines on stdin, quoted as a user types them', async () => {
    const t = await startRespTestServer();
    const { stdout } = await redisCli(t.port, [], 'SET quoted "two words"\nGET quoted\nEXPIRE quoted 100\nTTL quoted\nDBSIZE\n');
    assert.is(stdout, 'OK\ntwo words\n1\n100\n1\n');
  });
}

Cli.run();
