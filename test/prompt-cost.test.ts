/**
 * The prompt-cost model (src/prompt/cost-model.ts): the pairs counted
 * against a brute-force count, the fit recovering known rates, the crossover
 * against a scan, the report's measured crossover and curves, and the one
 * flat page the lengths share.
 */
import { describe, expect, it } from 'vitest';
import { type PromptModel, densePairs, fitStage, modelledCrossover, predictDense, predictDsa, predictLayerMha, sparsePairs } from '../src/prompt/cost-model';
import { type PromptCostPoint, modelPromptCost, validateLengths } from '../src/prompt/prompt-cost';
import { describeSpeedCorrection, promptCurves } from '../src/prompt/prompt-cost-report';
import { sharedFlatPage } from '../src/prefill/prefill-call';
import { generatePromptCase } from '../src/indexer/prompt-pipeline';
import { HEAD_PRESETS } from '../src/mla/shape';

function brutePairs(L: number, topk?: number): number {
  let n = 0;
  for (let p = 0; p < L; p++) n += topk === undefined ? p + 1 : Math.min(topk, p + 1);
  return n;
}

/** A point whose stage times follow the given rates exactly (ms a pair, ms a token). */
function pointAt(L: number, topk: number, rates: Record<'dense' | 'indexer' | 'topk' | 'sparse', [number, number]>): PromptCostPoint {
  const t = (s: keyof typeof rates) => rates[s][0] * (s === 'sparse' ? sparsePairs(L, topk) : densePairs(L)) + rates[s][1] * L;
  const ms = { dense: t('dense'), indexer: t('indexer'), topk: t('topk'), sparse: t('sparse') };
  return { keys: L, ms, dsaMs: ms.indexer + ms.topk + ms.sparse, densePass: true, dsaPass: true, kernel: 'v4', pageSize: 64, chunkTokens: { dense: 64, dsa: 64 } };
}

const RATES = { dense: [4e-6, 2e-3], indexer: [5e-7, 1e-3], topk: [1e-7, 5e-4], sparse: [4e-6, 1e-3] } as Record<'dense' | 'indexer' | 'topk' | 'sparse', [number, number]>;

describe('the prompt-cost model', () => {
  it('counts the pairs a causal prompt attends, dense and top-k', () => {
    for (const L of [1, 2, 7, 100, 513]) {
      expect(densePairs(L)).toBe(brutePairs(L));
      for (const k of [1, 5, 100, 600]) expect(sparsePairs(L, k), `L ${L} topk ${k}`).toBe(brutePairs(L, k));
    }
  });

  it('fits known rates back from exact times, and drops a term the data make negative', () => {
    const points = [512, 1024, 3000, 8192].map((L) => pointAt(L, 2048, RATES));
    for (const s of ['dense', 'indexer', 'topk', 'sparse'] as const) {
      const f = fitStage(s, points.map((p) => ({ keys: p.keys, ms: p.ms[s] })), 2048);
      expect(f.perPair / RATES[s][0]).toBeCloseTo(1, 6);
      expect(f.perToken / RATES[s][1]).toBeCloseTo(1, 6);
    }
    // Times a pair that grow with L: the token term would be negative, so the pairs alone are fitted.
    const f = fitStage('dense', [100, 200, 400].map((L) => ({ keys: L, ms: 1e-4 * densePairs(L) - 1e-3 * L })), 0);
    expect(f.perToken).toBe(0);
    expect(f.perPair).toBeGreaterThan(0);
  });

  it('finds the crossover a scan finds, and none when dense stays ahead', () => {
    const fits = modelPromptCost([512, 1024, 3000, 8192].map((L) => pointAt(L, 2048, RATES)), 2048).model;
    const at = modelledCrossover(fits)!;
    expect(predictDsa(fits, at)).toBeLessThan(predictDense(fits, at));
    expect(predictDsa(fits, at - 1)).toBeGreaterThanOrEqual(predictDense(fits, at - 1));
    let scan = 1;
    while (predictDsa(fits, scan) >= predictDense(fits, scan)) scan++;
    expect(at).toBe(scan);
    // Against the layer's MHA mode: a layer fit equal to dense's crosses where dense does; a cheaper one later.
    const layered: PromptModel = { ...fits, layer: { 'layer-mha': { ...fits.fits.dense, stage: 'layer-mha' }, 'layer-mqa': { ...fits.fits.dense, stage: 'layer-mqa' } } };
    expect(modelledCrossover(layered, 1 << 20, predictLayerMha)).toBe(at);
    const cheaper: PromptModel = { ...layered, layer: { ...layered.layer!, 'layer-mha': { ...fits.fits.dense, stage: 'layer-mha', perPair: fits.fits.dense.perPair / 3 } } };
    expect(modelledCrossover(cheaper, 1 << 20, predictLayerMha)).toBeGreaterThan(at);
    // An indexer dearer a pair than dense attention: DSA never wins.
    const dear: PromptModel = { topk: 2048, fits: { ...fits.fits, indexer: { ...fits.fits.indexer, perPair: 5e-6 } } };
    expect(modelledCrossover(dear)).toBeUndefined();
  });

  it('reads the measured crossover off the points, the fit error, and marks which curve points are measured', () => {
    const points = [1024, 2048, 4096, 8192].map((L) => pointAt(L, 2048, RATES));
    const m = modelPromptCost(points, 2048);
    expect(m.fitError.dense).toBeLessThan(1e-9);
    expect(m.fitError.dsa).toBeLessThan(1e-9);
    const dsaWins = points.filter((p) => p.dsaMs < p.ms.dense).map((p) => p.keys);
    expect(dsaWins.length).toBeGreaterThan(0);
    expect(dsaWins.length).toBeLessThan(points.length);
    expect(m.measuredCrossover).toEqual({ denseUpTo: Math.max(...points.filter((p) => p.dsaMs >= p.ms.dense).map((p) => p.keys)), dsaFrom: Math.min(...dsaWins), clean: true });
    expect(m.modelledCrossover).toBeGreaterThan(m.measuredCrossover.denseUpTo!);
    expect(m.modelledCrossover).toBeLessThanOrEqual(m.measuredCrossover.dsaFrom!);
    const curves = promptCurves({ points, model: m.model });
    expect(curves.filter((c) => c.measured).map((c) => c.keys)).toEqual([1024, 2048, 4096, 8192]);
    expect(curves[curves.length - 1]).toMatchObject({ keys: 1 << 20, measured: false });
    // A measured time that the model misses by 20 % shows as a 20 % fit error.
    const off = points.map((p, k) => (k === 0 ? { ...p, ms: { ...p.ms, dense: p.ms.dense * 1.2 } } : p));
    expect(modelPromptCost(off, 2048).fitError.dense).toBeGreaterThan(0.01);
  });

  it('gives prompts of several lengths one flat page that divides each, when one of 64 or more does', () => {
    expect(sharedFlatPage([512, 1024, 2048, 4096])).toBe(512);
    expect(sharedFlatPage([192, 96])).toBe(96);
    expect(sharedFlatPage([8192, 16384, 65536])).toBe(4096); // the largest page the sandbox takes
    expect(sharedFlatPage([3000])).toBe(3000);
    expect(sharedFlatPage([1000, 1001])).toBeUndefined(); // gcd 1: each length its own page
    expect(sharedFlatPage([96, 160])).toBeUndefined(); // gcd 32 < 64
    for (const lengths of [[512, 1024, 2048, 4096], [192, 96], [300, 900, 1500]]) {
      const page = sharedFlatPage(lengths)!;
      for (const L of lengths) expect(generatePromptCase({ dims: HEAD_PRESETS.v32, keys: L, sQ: 1, hQ: 1, topk: 4, flatPage: page }).call).toMatchObject({ pageSize: page, numBlocks: L / page, flat: true });
    }
    expect(() => generatePromptCase({ dims: HEAD_PRESETS.v32, keys: 100, sQ: 1, hQ: 1, topk: 4, flatPage: 64 })).toThrow(/a flat page of 64 tokens is not allowed: it must divide s_kv \(100\)/);
  });

  it('refuses a prompt length it cannot run, naming the flag', () => {
    expect(() => validateLengths([], '--lengths')).toThrow(/--lengths needs at least one/);
    expect(() => validateLengths([1024, 1], '--lengths')).toThrow(/--lengths: 1 is not allowed/);
    expect(validateLengths([4096, 1024, 4096])).toEqual([1024, 4096]);
  });

  it('with the speed probed around each way, gives the error of a fit to the times brought to the run\'s median speed beside the model\'s', () => {
    // The machine runs at 20 GFLOP/s, except that the dense way at 2048 and DSA at 8192 ran while it was at 14 (times 20/14 longer).
    const speeds = new Map([[2048, { dense: 14, dsa: 20 }], [8192, { dense: 20, dsa: 14 }]]);
    const points = [512, 1024, 2048, 4096, 8192].map((L) => {
      const p = pointAt(L, 2048, RATES);
      const speed = speeds.get(L) ?? { dense: 20, dsa: 20 };
      const ms = { dense: p.ms.dense * 20 / speed.dense, indexer: p.ms.indexer * 20 / speed.dsa, topk: p.ms.topk * 20 / speed.dsa, sparse: p.ms.sparse * 20 / speed.dsa };
      return { ...p, ms, dsaMs: ms.indexer + ms.topk + ms.sparse, speed };
    });
    const r = modelPromptCost(points, 2048);
    expect(r.speedCorrection).toMatchObject({ medianGflops: 20, minGflops: 14, maxGflops: 20 });
    // The model is fitted to the times as measured; at one speed they fit exactly.
    expect(r.fitError.dense).toBeGreaterThan(0.05);
    expect(r.fitError.dsa).toBeGreaterThan(0.05);
    expect(r.speedCorrection!.correctedFitError.dense).toBeLessThan(1e-9);
    expect(r.speedCorrection!.correctedFitError.dsa).toBeLessThan(1e-9);
    const raw = modelPromptCost(points.map(({ speed: _, ...p }) => p), 2048);
    expect(raw.speedCorrection).toBeUndefined();
    expect(raw.fitError).toEqual(r.fitError);
    expect(raw.model).toEqual(r.model);
    expect(describeSpeedCorrection(r.speedCorrection!)).toMatch(/^speed {4}the plain-matmul yardstick timed before and after each way: 14\.0-20\.0 GFLOP\/s; fitted instead to the times brought to the run's median, 20\.0 GFLOP\/s, the largest error would be: dense 0\.0 %, DSA 0\.0 %$/);
  });
});
