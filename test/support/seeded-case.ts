/**
 * A seeded case that draws from every stream of generateInputs (the page
 * shuffle, q, outlier channels, the cache straight into FP8, sparse indices,
 * the sink), hashed: the page test runs this module in Chromium (served by
 * Vite) and in Node, and the two digests must agree.
 */
import { generateInputs } from '../../src/mla/inputs';
import { presetShape } from '../../src/mla/shape';
import { kvLayout } from '../../src/mla/kv-layout';

export async function seededCaseDigest(): Promise<string> {
  const shape = presetShape('model1', { seqlens: [300, 70], hQ: 4, topk: 64, attentionSink: true });
  const i = generateInputs(shape, { seed: 7, distribution: 'outliers', cacheLayout: kvLayout('fp8', shape, shape.pageBlockSize) });
  const parts = [i.q, i.cacheBytes!, i.indices!, i.sink!, i.cache.blockTable].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  const hash = await crypto.subtle.digest('SHA-256', all);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
