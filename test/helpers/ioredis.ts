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
