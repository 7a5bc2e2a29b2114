/** The part of the `hashring` package (the baseline in bench/ring.bench.ts) that the bench uses. */
declare module 'hashring' {
  class HashRing {
    constructor(servers: string[] | Record<string, number>, algorithm?: string, options?: Record<string, unknown>);
    get(key: string): string;
  }
  export = HashRing;
}
