/**
 * A device profile: what the tuner found on one adapter, as JSON. For each
 * shape class it tuned (head dims, cache format, dense or sparse, h_q and
 * seqlen) it keeps the picked configuration, the times measured, and every
 * candidate timed (the page draws them as a heat map and beside other
 * devices' profiles). The command line keeps profiles under the user's cache
 * directory, the page in localStorage; both read them back here, and
 * `--kernel flash` runs the profile's pick for the nearest shape class.
 */
import { HEAD_PRESETS, PRESET_NAMES, type MlaShape } from '../mla/shape';
import { KV_FORMATS, type KvFormat } from '../mla/kv-layout';
import { KEY_READS, type PlanOptions } from '../kernels/kernel-plan';
import { parseOutBlock, parseScoreBlock } from '../kernels/register-blocks';
import { type TuningConfig, configName } from './tuning-space';
import type { TuneResult, TuneSearch } from './tuner';

export const PROFILE_KIND = 'mla-sandbox device profile';
export const PROFILE_VERSION = 1;

/** What a tuned configuration is for. */
export interface ShapeClass {
  readonly dQk: number;
  readonly dV: number;
  readonly kvFormat: KvFormat;
  readonly sparse: boolean;
  readonly hQ: number;
  /** Keys per query row: the longest seqlen (dense) or topk (sparse). */
  readonly keys: number;
}

export interface ProfileEntry {
  readonly shape: ShapeClass;
  readonly config: TuningConfig;
  readonly pickMs: number;
  readonly defaultMs: number;
  readonly pickGflops: number;
  readonly search: TuneSearch;
  readonly fitting: number;
  readonly timed: number;
  readonly seconds: number;
  /** Every candidate timed in the search (quick timing), for heat maps. */
  readonly candidates: readonly { readonly config: TuningConfig; readonly ms: number }[];
  readonly tunedAt: string;
}

export interface DeviceProfile {
  readonly kind: typeof PROFILE_KIND;
  readonly version: typeof PROFILE_VERSION;
  /** The adapter, as describeAdapter writes it: a profile applies to the adapter it was made on. */
  readonly adapter: string;
  readonly limits: Readonly<Record<string, number>>;
  readonly entries: readonly ProfileEntry[];
}

export function shapeClassOf(shape: MlaShape, kvFormat: KvFormat): ShapeClass {
  const sparse = shape.topk > 0;
  return { dQk: shape.dQk, dV: shape.dV, kvFormat, sparse, hQ: shape.hQ, keys: sparse ? shape.topk : Math.max(...shape.seqlens) };
}

export function describeShapeClass(c: ShapeClass): string {
  return `d_qk ${c.dQk} d_v ${c.dV}, ${c.kvFormat} cache, ${c.sparse ? 'sparse' : 'dense'}, h_q ${c.hQ}, ${c.keys} keys`;
}

export function emptyProfile(adapter: string, limits: Readonly<Record<string, number>>): DeviceProfile {
  return { kind: PROFILE_KIND, version: PROFILE_VERSION, adapter, limits, entries: [] };
}

export function entryOf(shape: MlaShape, kvFormat: KvFormat, r: TuneResult, tunedAt = new Date().toISOString()): ProfileEntry {
  return {
    shape: shapeClassOf(shape, kvFormat), config: r.pick.config, pickMs: r.pick.medianMs, defaultMs: r.defaultMs,
    pickGflops: r.flops / (r.pick.medianMs / 1e3) / 1e9, search: r.search, fitting: r.fitting, timed: r.timed, seconds: r.seconds,
    candidates: r.evaluations.filter((e) => e.pass).map((e) => ({ config: e.config, ms: e.ms })), tunedAt,
  };
}

const sameClass = (a: ShapeClass, b: ShapeClass) => JSON.stringify(a) === JSON.stringify(b);

/** The profile with this entry added, replacing one of the same shape class. */
export function withEntry(p: DeviceProfile, e: ProfileEntry): DeviceProfile {
  return { ...p, entries: [...p.entries.filter((x) => !sameClass(x.shape, e.shape)), e] };
}

/**
 * The entry for the nearest shape class: the same head dims, format and
 * kind (dense or sparse), then the least distance in log2(h_q) and
 * log2(keys) (a head count counts twice: it sets the head blocks).
 */
export function nearestEntry(p: DeviceProfile, c: ShapeClass): ProfileEntry | undefined {
  const distance = (e: ProfileEntry) => 2 * Math.abs(Math.log2(e.shape.hQ / c.hQ)) + Math.abs(Math.log2(e.shape.keys / c.keys));
  return p.entries
    .filter((e) => e.shape.dQk === c.dQk && e.shape.dV === c.dV && e.shape.kvFormat === c.kvFormat && e.shape.sparse === c.sparse)
    .reduce<ProfileEntry | undefined>((a, e) => (!a || distance(e) < distance(a) ? e : a), undefined);
}

/** Where a run's configuration came from, for its report. */
export interface TuningSource {
  readonly tuned: boolean;
  /** e.g. "tuned: profile ~/.cache/..., class d_qk 576 ..., S 16x16 ..." or "default: no profile for this adapter". */
  readonly line: string;
}

/** Plan options of a profile's configuration ("flash" alone: none). */
export function planOptionsOf(c: TuningConfig): { kernel: 'flash' | 'tiled'; options: PlanOptions } {
  const { kernel, ...options } = c;
  return { kernel, options };
}

/**
 * The configuration a run of `shape` should use from this profile, or why it
 * uses the default: no profile, another adapter's, no entry for these dims
 * and format.
 */
export function profileChoice(p: DeviceProfile | undefined, where: string, adapter: string, shape: MlaShape, kvFormat: KvFormat): { config?: TuningConfig; source: TuningSource } {
  const c = shapeClassOf(shape, kvFormat);
  const preset = PRESET_NAMES.find((n) => HEAD_PRESETS[n].dQk === c.dQk && HEAD_PRESETS[n].dV === c.dV);
  const tuneHint = preset
    ? `mla-sandbox bench --tune --preset ${preset} --kv ${kvFormat} --h-q ${c.hQ} --seqlen ${c.keys} makes one`
    : `the tuner takes the presets' head dims only`;
  if (!p) return { source: { tuned: false, line: `default (no profile at ${where}; ${tuneHint})` } };
  if (p.adapter !== adapter) return { source: { tuned: false, line: `default (the profile at ${where} is for another adapter: ${p.adapter})` } };
  const e = nearestEntry(p, c);
  if (!e) return { source: { tuned: false, line: `default (the profile at ${where} has no entry for d_qk ${c.dQk} d_v ${c.dV}, ${c.kvFormat}, ${c.sparse ? 'sparse' : 'dense'}; ${tuneHint})` } };
  return {
    config: e.config,
    source: {
      tuned: true,
      line: `tuned: ${configName(e.config)}, from the profile at ${where}, class ${describeShapeClass(e.shape)} (${e.pickMs.toFixed(2)} ms there against the default's ${e.defaultMs.toFixed(2)} ms)`,
    },
  };
}

// ---- reading a profile (a file or localStorage): every field checked, the message names it ----

class ProfileError extends Error {
  constructor(where: string, field: string, what: string) {
    super(`${where}: ${field} ${what}`);
    this.name = 'ProfileError';
  }
}

function field<T>(where: string, path: string, v: unknown, ok: (x: unknown) => x is T, expected: string): T {
  if (!ok(v)) throw new ProfileError(where, path, `is ${JSON.stringify(v) ?? 'missing'}, expected ${expected}`);
  return v;
}
const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const isPos = (x: unknown): x is number => isNum(x) && x > 0;
const isInt = (x: unknown): x is number => Number.isInteger(x) && (x as number) > 0;
const isStr = (x: unknown): x is string => typeof x === 'string';
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

function readConfig(where: string, path: string, v: unknown): TuningConfig {
  const o = field(where, path, v, isObj, 'an object');
  const kernel = field(where, `${path}.kernel`, o.kernel, (x): x is 'flash' | 'tiled' => x === 'flash' || x === 'tiled', '"flash" or "tiled"');
  if (kernel === 'flash') return { kernel };
  const wrap = <T>(f: () => T): T => { try { return f(); } catch (e) { throw new ProfileError(where, path, (e as Error).message); } };
  return {
    kernel,
    scoreBlock: wrap(() => parseScoreBlock(String(o.scoreBlock), `${path}.scoreBlock`)),
    outBlock: wrap(() => parseOutBlock(String(o.outBlock), `${path}.outBlock`)),
    keys: field(where, `${path}.keys`, o.keys, (x): x is 'tile' | 'cache' => (KEY_READS as readonly unknown[]).includes(x), KEY_READS.join(' or ')),
    headsPerWorkgroup: field(where, `${path}.headsPerWorkgroup`, o.headsPerWorkgroup, isInt, 'a positive integer'),
    tileN: field(where, `${path}.tileN`, o.tileN, isInt, 'a positive integer'),
  };
}

/** A profile from JSON text; `where` names the file or store in every message. */
export function parseProfile(text: string, where: string): DeviceProfile {
  let raw: unknown;
  try { raw = JSON.parse(text); } catch (e) { throw new Error(`${where}: not JSON (${(e as Error).message})`); }
  const o = field(where, 'the profile', raw, isObj, 'an object');
  if (o.kind !== PROFILE_KIND) throw new ProfileError(where, 'kind', `is ${JSON.stringify(o.kind)}, expected "${PROFILE_KIND}" (is this a device profile?)`);
  if (o.version !== PROFILE_VERSION) throw new ProfileError(where, 'version', `is ${JSON.stringify(o.version)}, expected ${PROFILE_VERSION}`);
  const adapter = field(where, 'adapter', o.adapter, isStr, 'a string');
  const limits = field(where, 'limits', o.limits, isObj, 'an object') as Record<string, number>;
  const entries = field(where, 'entries', o.entries, Array.isArray, 'an array').map((x, k): ProfileEntry => {
    const at = `entries[${k}]`;
    const e = field(where, at, x, isObj, 'an object');
    const s = field(where, `${at}.shape`, e.shape, isObj, 'an object');
    const shape: ShapeClass = {
      dQk: field(where, `${at}.shape.dQk`, s.dQk, isInt, 'a positive integer'),
      dV: field(where, `${at}.shape.dV`, s.dV, isInt, 'a positive integer'),
      kvFormat: field(where, `${at}.shape.kvFormat`, s.kvFormat, (y): y is KvFormat => (KV_FORMATS as readonly unknown[]).includes(y), KV_FORMATS.join(', ')),
      sparse: field(where, `${at}.shape.sparse`, s.sparse, (y): y is boolean => typeof y === 'boolean', 'true or false'),
      hQ: field(where, `${at}.shape.hQ`, s.hQ, isInt, 'a positive integer'),
      keys: field(where, `${at}.shape.keys`, s.keys, isInt, 'a positive integer'),
    };
    const candidates = field(where, `${at}.candidates`, e.candidates, Array.isArray, 'an array').map((c, j) => {
      const co = field(where, `${at}.candidates[${j}]`, c, isObj, 'an object');
      return { config: readConfig(where, `${at}.candidates[${j}].config`, co.config), ms: field(where, `${at}.candidates[${j}].ms`, co.ms, isPos, 'a time in ms above 0') };
    });
    return {
      shape, config: readConfig(where, `${at}.config`, e.config),
      pickMs: field(where, `${at}.pickMs`, e.pickMs, isPos, 'a time in ms above 0'),
      defaultMs: field(where, `${at}.defaultMs`, e.defaultMs, isPos, 'a time in ms above 0'),
      pickGflops: field(where, `${at}.pickGflops`, e.pickGflops, isPos, 'a rate above 0'),
      search: field(where, `${at}.search`, e.search, (y): y is TuneSearch => y === 'pruned' || y === 'exhaustive', '"pruned" or "exhaustive"'),
      fitting: field(where, `${at}.fitting`, e.fitting, isInt, 'a positive integer'),
      timed: field(where, `${at}.timed`, e.timed, isInt, 'a positive integer'),
      seconds: field(where, `${at}.seconds`, e.seconds, isPos, 'seconds above 0'),
      candidates,
      tunedAt: field(where, `${at}.tunedAt`, e.tunedAt, isStr, 'a date string'),
    };
  });
  return { kind: PROFILE_KIND, version: PROFILE_VERSION, adapter, limits, entries };
}
