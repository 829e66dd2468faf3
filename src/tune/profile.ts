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
import { KEY_READS, type PlanOptions, QUERY_READS } from '../kernels/kernel-plan';
import { type KernelChoice, PLAN_OPTION_FLAGS } from '../kernels/versions';
import { parseMatmulScoreBlock, parseOutBlock, parseScoreBlock } from '../kernels/register-blocks';
import { TUNED_KERNELS, type TunedKernel, type TuningConfig, configName } from './tuning-space';
import type { TuneResult, TuneSearch } from './tuner';
import type { DeviceCeilings } from '../timing/device-ceilings';
import { JsonFieldError, field, isBool, isInt, isObj, isPos, isStr, oneOfValues, parseJsonObject } from './json-fields';

export const PROFILE_KIND = 'mla-sandbox device profile';
/** 2: each entry keeps the call's work and the device's ceilings measured beside it (for the roofline). */
export const PROFILE_VERSION = 2;

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
  /** The call's FLOPs and bytes (FlashMLA's counting): the pick's point on the roofline. */
  readonly flops: number;
  readonly bytes: number;
  readonly ceilings: DeviceCeilings;
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

/** A name for the adapter's profile (a file name, a localStorage key) from its description: its first letters and digits, and a hash of all of it (FNV-1a). */
export function adapterSlug(adapter: string): string {
  let h = 0x811c9dc5;
  for (let k = 0; k < adapter.length; k++) h = Math.imul(h ^ adapter.charCodeAt(k), 0x01000193) >>> 0;
  const words = adapter.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 48).replace(/-$/, '');
  return `${words || 'adapter'}-${h.toString(16).padStart(8, '0')}`;
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

export function entryOf(shape: MlaShape, kvFormat: KvFormat, r: TuneResult, ceilings: DeviceCeilings, tunedAt = new Date().toISOString()): ProfileEntry {
  return {
    shape: shapeClassOf(shape, kvFormat), config: r.pick.config, pickMs: r.pick.medianMs, defaultMs: r.defaultMs,
    pickGflops: r.flops / (r.pick.medianMs / 1e3) / 1e9, flops: r.flops, bytes: r.bytes, ceilings, search: r.search, fitting: r.fitting, timed: r.timed, seconds: r.seconds,
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

/**
 * The configuration a run of `shape` should use from this profile, or why it
 * uses the default: no profile, another adapter's, no entry for these dims
 * and format.
 */
export function profileChoice(p: DeviceProfile | undefined, where: string, adapter: string, shape: MlaShape, kvFormat: KvFormat): { config?: TuningConfig; source: TuningSource } {
  const c = shapeClassOf(shape, kvFormat);
  const preset = PRESET_NAMES.find((n) => HEAD_PRESETS[n].dQk === c.dQk && HEAD_PRESETS[n].dV === c.dV);
  const tuneHint = preset
    ? `mla-sandbox bench --tune --preset ${preset} --kv ${kvFormat} --h-q ${c.hQ} ${c.sparse ? `--topk ${c.keys}` : `--seqlen ${c.keys}`} makes one${c.sparse ? '' : ' (in the page: the Ladder view\'s Tune section)'}`
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

/**
 * The configuration a run uses: the profile's pick for the nearest shape
 * class when the kernel is "flash" and no plan option is set by hand; else
 * the options as given (the kernel's defaults for the rest). The profile is
 * read only when it applies (a bad one is refused then, with its name).
 * A pick tuned for another shape may not fit this call (queries or keys
 * from a texture past the device's textures, a storage tile past a
 * binding): `refusal` says why a configuration does not (run/runner.ts,
 * planRefusal), and such a pick gives way to the default, which the line
 * says.
 */
export function tunedRunConfig<C extends PlanOptions & { readonly kernel: KernelChoice; readonly kvFormat: KvFormat }>(
  config: C, readProfile: () => DeviceProfile | undefined, where: string, adapter: string, shape: MlaShape,
  refusal: (c: C) => string | undefined = () => undefined,
): { config: C; source: TuningSource } {
  const byHand = (Object.keys(PLAN_OPTION_FLAGS) as (keyof PlanOptions)[]).filter((k) => config[k] !== undefined && config[k] !== 'auto');
  if (byHand.length) {
    return { config, source: { tuned: false, line: `set by hand (${byHand.map((k) => `${PLAN_OPTION_FLAGS[k]} ${config[k]}`).join(' ')}); the kernel's defaults for the rest` } };
  }
  if (config.kernel !== 'flash') return { config, source: { tuned: false, line: `default (kernel ${config.kernel}: the profile is read for kernel flash)` } };
  const { config: picked, source } = profileChoice(readProfile(), where, adapter, shape, config.kvFormat);
  if (!picked) return { config, source };
  const tuned = { ...config, ...picked };
  const why = refusal(tuned);
  if (why !== undefined) return { config, source: { tuned: false, line: `default (the pick of the profile at ${where}, ${configName(picked)}, does not fit this call: ${why})` } };
  return { config: tuned, source };
}

// ---- reading a profile (a file or localStorage): every field checked, the message names it ----

function readConfig(where: string, path: string, v: unknown): TuningConfig {
  const o = field(where, path, v, isObj, 'an object');
  const kernel = field(where, `${path}.kernel`, o.kernel, oneOfValues<'flash' | TunedKernel>(['flash', ...TUNED_KERNELS]), ['flash', ...TUNED_KERNELS].map((k) => `"${k}"`).join(' or '));
  if (kernel === 'flash') return { kernel };
  const wrap = <T>(f: () => T): T => { try { return f(); } catch (e) { throw new JsonFieldError(where, path, (e as Error).message); } };
  // v6 has its two blocks only (a 32x32 score block among them).
  if (kernel === 'matmuls') {
    return { kernel, scoreBlock: wrap(() => parseMatmulScoreBlock(String(o.scoreBlock), `${path}.scoreBlock`)), outBlock: wrap(() => parseOutBlock(String(o.outBlock), `${path}.outBlock`)) };
  }
  return {
    kernel,
    scoreBlock: wrap(() => parseScoreBlock(String(o.scoreBlock), `${path}.scoreBlock`)),
    outBlock: wrap(() => parseOutBlock(String(o.outBlock), `${path}.outBlock`)),
    keys: field(where, `${path}.keys`, o.keys, oneOfValues(KEY_READS), KEY_READS.join(' or ')),
    // Absent in a profile tuned before the queries were a knob: those candidates read them from storage.
    queries: o.queries === undefined ? 'storage' : field(where, `${path}.queries`, o.queries, oneOfValues(QUERY_READS), QUERY_READS.join(' or ')),
    headsPerWorkgroup: field(where, `${path}.headsPerWorkgroup`, o.headsPerWorkgroup, isInt, 'a positive integer'),
    tileN: field(where, `${path}.tileN`, o.tileN, isInt, 'a positive integer'),
  };
}

export function readCeilings(where: string, path: string, v: unknown): DeviceCeilings {
  const o = field(where, path, v, isObj, 'an object');
  return {
    copyGBps: field(where, `${path}.copyGBps`, o.copyGBps, isPos, 'a rate above 0'),
    fmaGflops: field(where, `${path}.fmaGflops`, o.fmaGflops, isPos, 'a rate above 0'),
    yardstickGflops: field(where, `${path}.yardstickGflops`, o.yardstickGflops, isPos, 'a rate above 0'),
  };
}

/** A profile from JSON text; `where` names the file or store in every message. */
export function parseProfile(text: string, where: string): DeviceProfile {
  const o = parseJsonObject(text, where, 'the profile');
  if (o.kind !== PROFILE_KIND) throw new JsonFieldError(where, 'kind', `is ${JSON.stringify(o.kind)}, expected "${PROFILE_KIND}" (is this a device profile?)`);
  if (o.version !== PROFILE_VERSION) {
    throw new JsonFieldError(where, 'version', `is ${JSON.stringify(o.version)}, expected ${PROFILE_VERSION}${o.version === 1 ? ' (a version 1 profile has no ceilings: tune again with mla-sandbox bench --tune)' : ''}`);
  }
  const adapter = field(where, 'adapter', o.adapter, isStr, 'a string');
  const limits = field(where, 'limits', o.limits, isObj, 'an object') as Record<string, number>;
  const entries = field(where, 'entries', o.entries, Array.isArray, 'an array').map((x, k): ProfileEntry => {
    const at = `entries[${k}]`;
    const e = field(where, at, x, isObj, 'an object');
    const s = field(where, `${at}.shape`, e.shape, isObj, 'an object');
    const shape: ShapeClass = {
      dQk: field(where, `${at}.shape.dQk`, s.dQk, isInt, 'a positive integer'),
      dV: field(where, `${at}.shape.dV`, s.dV, isInt, 'a positive integer'),
      kvFormat: field(where, `${at}.shape.kvFormat`, s.kvFormat, oneOfValues(KV_FORMATS), KV_FORMATS.join(', ')),
      sparse: field(where, `${at}.shape.sparse`, s.sparse, isBool, 'true or false'),
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
      flops: field(where, `${at}.flops`, e.flops, isPos, 'a count above 0'),
      bytes: field(where, `${at}.bytes`, e.bytes, isPos, 'a count above 0'),
      ceilings: readCeilings(where, `${at}.ceilings`, e.ceilings),
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
