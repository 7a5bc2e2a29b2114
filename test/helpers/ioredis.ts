/** ioredis for the RESP tests, loaded so a checkout without devDependencies skips those tests with a message. */
import type RedisClient from 'ioredis';

export type RedisConstructor = typeof RedisClient;

export function loadIoredis(suiteName: string): RedisConstructor | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('ioredis') as { default: RedisConstructor }).default;
  } catch {
    console.log(`${suiteName}: ioredis is not installed (npm install): skipping these tests`);
    return undefined;
  }
}

/**
 * An ioredis client connected to 127.0.0.1:`port` that fails fast instead of retrying (a test wants the error),
 * added to `opened` so the suite disconnects it afterwards.
 */
export async function connectIoredis(
  Redis: RedisConstructor,
  port: number,
  opened: { add(redis: RedisClient): unknown } | { push(redis: RedisClient): unknown },
): Promise<RedisClient> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  if ('add' in opened) opened.add(redis);
  else opened.push(redis);
  await redis.connect();
  return redis;
}
