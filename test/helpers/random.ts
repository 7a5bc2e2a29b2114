/** A small seeded generator (mulberry32) so failures reproduce: tests print the seed they used. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomKeys(count: number, seed: number): string[] {
  const random = seededRandom(seed);
  const keys: string[] = new Array(count);
  for (let i = 0; i < count; i++) keys[i] = `key:${Math.floor(random() * 2 ** 48).toString(36)}:${i}`;
  return keys;
}
