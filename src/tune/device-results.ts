/**
 * Results from several devices side by side: a device profile (the tuner's
 * picks) or exported ladder results (every version on some shapes), each
 * read into the same rows: which shape, what ran, how fast, and how far that
 * is from the device's own ceilings and from the yardstick timed with it (a
 * ladder point's, timed beside it; a tuned pick's, in its final rounds).
 * A visitor puts their GPU beside others' by importing files exported
 * elsewhere (the page, or the command line's --json-out).
 */
import { KV_FORMATS } from '../mla/kv-layout';
import { HEAD_PRESETS, PRESET_NAMES } from '../mla/shape';
import type { LadderRow } from '../bench/ladder';
import type { DeviceCeilings } from '../timing/device-ceilings';
import { fmtMs, fmtRate } from '../run/report';
import { type DeviceProfile, PROFILE_KIND, describeShapeClass, parseProfile, readCeilings } from './profile';
import { configName } from './tuning-space';
import { field, isBool, isInt, isObj, isPos, isStr, oneOfValues, parseJsonObject } from './json-fields';

export const LADDER_RESULTS_KIND = 'mla-sandbox ladder results';
export const LADDER_RESULTS_VERSION = 1;

/** What `bench --ladder --json-out` and the page's Ladder export write. */
export interface LadderResults {
  readonly kind: typeof LADDER_RESULTS_KIND;
  readonly version: typeof LADDER_RESULTS_VERSION;
  readonly adapter: string;
  readonly ceilings: DeviceCeilings;
  readonly rows: readonly LadderRow[];
}

export function ladderResults(adapter: string, ceilings: DeviceCeilings, rows: readonly LadderRow[]): LadderResults {
  return { kind: LADDER_RESULTS_KIND, version: LADDER_RESULTS_VERSION, adapter, ceilings, rows };
}

/** One measured point of one device. */
export interface DeviceResultRow {
  /** e.g. "d_qk 576 d_v 512, fp8 cache, dense, h_q 64, 4096 keys". */
  readonly shape: string;
  /** The configuration or version that ran. */
  readonly ran: string;
  /** From the tuner (a profile's pick) or the ladder. */
  readonly source: 'tuned' | 'ladder';
  readonly ms: number;
  readonly gflops: number;
  /** FLOPs per byte of the call: the point's x on the roofline. */
  readonly intensity: number;
  /** The plain-matmul yardstick timed with this point (GFLOP/s): a software adapter's speed moves within a run. */
  readonly yardstickGflops: number;
}

export interface DeviceResults {
  readonly adapter: string;
  /** Where they came from: a file's name, or "this page". */
  readonly from: string;
  readonly ceilings: DeviceCeilings;
  readonly rows: readonly DeviceResultRow[];
}

export function resultsOfProfile(p: DeviceProfile, from: string): DeviceResults {
  const last = p.entries.at(-1);
  if (!last) throw new Error(`${from}: the profile has no entries yet (tune a shape first)`);
  return {
    adapter: p.adapter, from, ceilings: last.ceilings,
    rows: p.entries.map((e) => ({
      shape: describeShapeClass(e.shape), ran: configName(e.config), source: 'tuned', ms: e.pickMs, gflops: e.pickGflops, intensity: e.flops / e.bytes,
      yardstickGflops: e.ceilings.yardstickGflops,
    })),
  };
}

/** What the comparison reads of a ladder row (yardstickGflops: timed beside it, absent in files from before that). */
type LadderPoint = Pick<LadderRow, 'preset' | 'dQk' | 'hQ' | 'seqlen' | 'kvFormat' | 'version' | 'pass' | 'medianMs' | 'gflops' | 'intensity'> & { readonly yardstickGflops?: number };

export function resultsOfLadder(l: Pick<LadderResults, 'adapter' | 'ceilings'> & { readonly rows: readonly LadderPoint[] }, from: string): DeviceResults {
  return {
    adapter: l.adapter, from, ceilings: l.ceilings,
    rows: l.rows.filter((r) => r.pass).map((r) => ({
      shape: describeShapeClass({ dQk: r.dQk, dV: HEAD_PRESETS[r.preset].dV, kvFormat: r.kvFormat, sparse: false, hQ: r.hQ, keys: r.seqlen }),
      ran: r.version, source: 'ladder', ms: r.medianMs, gflops: r.gflops, intensity: r.intensity,
      yardstickGflops: r.yardstickGflops ?? l.ceilings.yardstickGflops,
    })),
  };
}

/**
 * A profile or ladder results from JSON text, told apart by their "kind";
 * `where` names the file in every message.
 */
export function parseDeviceResults(text: string, where: string): DeviceResults {
  const o = parseJsonObject(text, where, 'the file');
  if (o.kind === PROFILE_KIND) return resultsOfProfile(parseProfile(text, where), where);
  if (o.kind !== LADDER_RESULTS_KIND) {
    throw new Error(`${where}: kind is ${JSON.stringify(o.kind) ?? 'missing'}, expected "${PROFILE_KIND}" (bench --tune, the page's Tune) or "${LADDER_RESULTS_KIND}" (bench --ladder --json-out, the page's Ladder export)`);
  }
  field(where, 'version', o.version, (v): v is 1 => v === LADDER_RESULTS_VERSION, String(LADDER_RESULTS_VERSION));
  const rows = field(where, 'rows', o.rows, Array.isArray, 'an array').map((x, k) => {
    const at = `rows[${k}]`;
    const r = field(where, at, x, isObj, 'an object');
    const num = (name: string, ok: (v: unknown) => v is number, what: string) => field(where, `${at}.${name}`, r[name], ok, what);
    // Only the fields the comparison reads are checked and kept.
    return {
      preset: field(where, `${at}.preset`, r.preset, oneOfValues(PRESET_NAMES), PRESET_NAMES.join(', ')),
      dQk: num('dQk', isInt, 'a positive integer'), hQ: num('hQ', isInt, 'a positive integer'),
      seqlen: num('seqlen', isInt, 'a positive integer'),
      kvFormat: field(where, `${at}.kvFormat`, r.kvFormat, oneOfValues(KV_FORMATS), KV_FORMATS.join(', ')),
      version: field(where, `${at}.version`, r.version, isStr, 'a string'),
      pass: field(where, `${at}.pass`, r.pass, isBool, 'true or false'),
      medianMs: num('medianMs', isPos, 'a time in ms above 0'), gflops: num('gflops', isPos, 'a rate above 0'),
      intensity: num('intensity', isPos, 'FLOP per byte above 0'),
      ...(r.yardstickGflops === undefined ? {} : { yardstickGflops: num('yardstickGflops', isPos, 'a rate above 0') }),
    };
  });
  return resultsOfLadder({
    adapter: field(where, 'adapter', o.adapter, isStr, 'a string'),
    ceilings: readCeilings(where, 'ceilings', o.ceilings),
    rows,
  }, where);
}

export const COMPARISON_HEAD = ['shape', 'device', 'from', 'ran', 'time', 'GFLOP/s', '% of FMA', '% of yardstick'] as const;

/** The table: every device's rows, the same shape's rows together, fastest first; each against its own yardstick. */
export function comparisonCells(devices: readonly DeviceResults[]): string[][] {
  const rows = devices.flatMap((d) => d.rows.map((r) => ({ d, r })));
  rows.sort((a, b) => a.r.shape.localeCompare(b.r.shape, 'en', { numeric: true }) || b.r.gflops - a.r.gflops);
  return rows.map(({ d, r }) => [
    r.shape, d.adapter, `${d.from} (${r.source})`, r.ran, fmtMs(r.ms), fmtRate(r.gflops),
    `${(100 * r.gflops / d.ceilings.fmaGflops).toFixed(1)} %`, `${(100 * r.gflops / r.yardstickGflops).toFixed(0)} %`,
  ]);
}
