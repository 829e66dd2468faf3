/**
 * The KV-memory calculator (`mla-sandbox memory`): what one token of context
 * costs per layer, and in total for a context and a layer count, for the
 * attention schemes the DeepSeek-V2 paper compares (elements per token:
 * MHA 2 n_h d_h l, GQA 2 n_g d_h l, MQA 2 d_h l, MLA (d_c + d_R) l) and for
 * the MLA cache layouts this project runs. The MLA figures come from the
 * layout table (kv-layout.ts), not typed again: V3.2 FP8 is 656 B a token
 * (512 FP8 latent + 4 f32 scales + 64 bf16 rope), MODEL1 FP8 584 B; a
 * sparse configuration adds the lightning indexer's 132 B key (indexer-shape.ts).
 */
import { INDEXER } from '../mla/indexer-shape';
import { type KvFormat, kvLayout } from '../mla/kv-layout';
import { type PresetName, fmtBytes, presetShape } from '../mla/shape';
import { intFlag, intList, oneOf } from '../run/run-options';

/** Element types of the MHA/GQA/MQA caches, and their bytes. */
export const ELEMENT_BYTES = { f32: 4, bf16: 2, fp8: 1, int8: 1 } as const;
export type ElementType = keyof typeof ELEMENT_BYTES;

/** A classic attention cache: `groups` key/value heads of d_k + d_v elements. */
export interface HeadsConfig {
  /** Query heads (MHA keeps a key and a value per query head). */
  readonly heads: number;
  /** Key/value groups for GQA. */
  readonly groups: number;
  readonly dK: number;
  readonly dV: number;
  readonly element: ElementType;
}

export interface MemorySpec {
  readonly contexts: readonly number[];
  readonly layers: number;
  readonly mha: HeadsConfig;
}

/** DeepSeek V3/V3.2: 61 layers; the MHA it is set against: 128 heads of 128 (V2 paper's frame), GQA with 8 groups. */
export const DEFAULT_MEMORY: MemorySpec = {
  contexts: [4096, 131072, 1048576],
  layers: 61,
  mha: { heads: 128, groups: 8, dK: 128, dV: 128, element: 'bf16' },
};

/** Most tokens the calculator takes: 16M. */
export const MAX_CONTEXT = 1 << 24;

export interface MemoryScheme {
  readonly name: string;
  readonly family: 'MHA' | 'GQA' | 'MQA' | 'MLA';
  /** How the bytes per token per layer are made up. */
  readonly formula: string;
  readonly bytesPerTokenPerLayer: number;
}

export interface MemoryRow extends MemoryScheme {
  /** Bytes of the whole cache (all layers) at each context of the spec. */
  readonly totals: readonly number[];
}

/** The MLA layouts the project runs: head preset x cache format. */
const MLA_LAYOUTS: readonly [PresetName, KvFormat][] = [
  ['v32', 'f32'], ['v32', 'bf16'], ['v32', 'fp8'], ['model1', 'bf16'], ['model1', 'fp8'],
];

const PRESET_LABEL: Record<PresetName, string> = { v32: 'V3.2', model1: 'MODEL1' };

export function mlaScheme(preset: PresetName, format: KvFormat): MemoryScheme {
  const shape = presetShape(preset);
  const layout = kvLayout(format, shape, 64);
  const parts = format === 'fp8'
    ? `${layout.bytesPerToken} B: ${shape.dNope} FP8 latent + scales + ${shape.dRope} bf16 rope (${layout.name})`
    : `${shape.dQk} x ${layout.bytesPerToken / shape.dQk} B (${shape.dNope} latent + ${shape.dRope} rope, ${format})`;
  return { name: `MLA ${PRESET_LABEL[preset]} ${format}`, family: 'MLA', formula: parts, bytesPerTokenPerLayer: layout.bytesPerToken };
}

export function memorySchemes(mha: HeadsConfig): MemoryScheme[] {
  const e = ELEMENT_BYTES[mha.element];
  const kv = (n: number) => n * (mha.dK + mha.dV) * e;
  const per = `(${mha.dK} + ${mha.dV}) x ${e} B (${mha.element})`;
  return [
    { name: `MHA ${mha.heads} heads ${mha.element}`, family: 'MHA', formula: `${mha.heads} heads x ${per}`, bytesPerTokenPerLayer: kv(mha.heads) },
    { name: `GQA ${mha.groups} groups ${mha.element}`, family: 'GQA', formula: `${mha.groups} groups x ${per}`, bytesPerTokenPerLayer: kv(mha.groups) },
    { name: `MQA ${mha.element}`, family: 'MQA', formula: `1 x ${per}`, bytesPerTokenPerLayer: kv(1) },
    ...MLA_LAYOUTS.map(([preset, format]) => mlaScheme(preset, format)),
    ...(['v32', 'model1'] as const).map((preset) => sparseScheme(preset)),
  ];
}

/**
 * A sparse (DSA) configuration's cache: the FP8 latent cache plus the
 * lightning indexer's key cache, 132 B a token (128 FP8 codes and an f32
 * scale), both per layer.
 */
export function sparseScheme(preset: PresetName): MemoryScheme {
  const latent = mlaScheme(preset, 'fp8').bytesPerTokenPerLayer;
  return {
    name: `MLA ${PRESET_LABEL[preset]} fp8 + indexer`, family: 'MLA',
    formula: `${latent} B latent (fp8) + ${INDEXER.bytesPerToken} B indexer key (${INDEXER.headDim} FP8 + f32 scale)`,
    bytesPerTokenPerLayer: latent + INDEXER.bytesPerToken,
  };
}

/** Fields are named as the CLI flags and the page's fields are. */
function positiveInt(field: string, v: number, max: number): void {
  if (!Number.isSafeInteger(v) || v < 1 || v > max) throw new Error(`--${field} ${v} is not allowed: --${field} must be an integer from 1 to ${max}`);
}

export function validateMemorySpec(spec: MemorySpec): MemorySpec {
  if (spec.contexts.length === 0) throw new Error('--contexts is empty: give at least one context length');
  spec.contexts.forEach((c) => positiveInt('contexts', c, MAX_CONTEXT));
  positiveInt('layers', spec.layers, 1024);
  positiveInt('heads', spec.mha.heads, 1024);
  positiveInt('groups', spec.mha.groups, spec.mha.heads);
  positiveInt('d-k', spec.mha.dK, 1024);
  positiveInt('d-v', spec.mha.dV, 1024);
  if (!(spec.mha.element in ELEMENT_BYTES)) throw new Error(`--element ${JSON.stringify(spec.mha.element)} is not allowed: --element must be one of ${Object.keys(ELEMENT_BYTES).join(', ')}`);
  return spec;
}

/** Flag values by name (the CLI's flags, the page's fields): contexts, layers, heads, groups, d-k, d-v, element. */
export type MemoryFlags = Readonly<Partial<Record<'contexts' | 'layers' | 'heads' | 'groups' | 'd-k' | 'd-v' | 'element', string>>>;

/** The spec the flags give; a flag not given takes DEFAULT_MEMORY's value. */
export function memorySpecFromFlags(v: MemoryFlags): MemorySpec {
  const d = DEFAULT_MEMORY;
  return {
    contexts: intList('contexts', v.contexts) ?? d.contexts,
    layers: intFlag('layers', v.layers, 1, 1024) ?? d.layers,
    mha: {
      heads: intFlag('heads', v.heads, 1, 1024) ?? d.mha.heads,
      groups: intFlag('groups', v.groups, 1, 1024) ?? d.mha.groups,
      dK: intFlag('d-k', v['d-k'], 1, 1024) ?? d.mha.dK,
      dV: intFlag('d-v', v['d-v'], 1, 1024) ?? d.mha.dV,
      element: v.element === undefined ? d.mha.element : oneOf<ElementType>('element', v.element, Object.keys(ELEMENT_BYTES) as ElementType[]),
    },
  };
}

export function memoryRows(spec: MemorySpec): MemoryRow[] {
  validateMemorySpec(spec);
  return memorySchemes(spec.mha).map((s) => ({ ...s, totals: spec.contexts.map((c) => s.bytesPerTokenPerLayer * spec.layers * c) }));
}

/** "FP8 halves the cache" against the layouts: how much smaller FP8 is than bf16 for each head. */
export function fp8Claims(): { preset: PresetName; bf16: number; fp8: number; saved: number }[] {
  return (['v32', 'model1'] as const).map((preset) => {
    const bf16 = mlaScheme(preset, 'bf16').bytesPerTokenPerLayer;
    const fp8 = mlaScheme(preset, 'fp8').bytesPerTokenPerLayer;
    return { preset, bf16, fp8, saved: 1 - fp8 / bf16 };
  });
}

/** Tokens of context that fit `bytes` (all layers), for a scheme. */
export function tokensIn(bytes: number, scheme: MemoryScheme, layers: number): number {
  return Math.floor(bytes / (scheme.bytesPerTokenPerLayer * layers));
}

/** Memory sizes the view sets the totals against. */
export const GPU_MEMORY_MARKS = [
  { label: '24 GB GPU', bytes: 24e9 },
  { label: '80 GB GPU', bytes: 80e9 },
] as const;

function fmtTokens(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(n % (1 << 20) ? 1 : 0)}M` : n >= 1024 ? `${(n / 1024).toFixed(n % 1024 ? 1 : 0)}K` : String(n);
}

export function memoryMarkdown(spec: MemorySpec, rows: readonly MemoryRow[]): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  const claims = fp8Claims().map((c) => `- "An FP8 KV cache halves memory": ${PRESET_LABEL[c.preset]} bf16 ${c.bf16} B -> FP8 ${c.fp8} B a token per layer, ${(100 * c.saved).toFixed(0)} % less (the FP8 latent carries scales and a bf16 rope part).`);
  const fits = GPU_MEMORY_MARKS.map((m) => `- ${m.label} (all of it for the cache, ${spec.layers} layers): ${rows.map((r) => `${r.name} ${fmtTokens(tokensIn(m.bytes, r, spec.layers))}`).join(', ')} tokens.`);
  return [
    `# KV cache memory: ${spec.layers} layers`, '',
    line(['scheme', 'bytes per token per layer', 'made of', ...spec.contexts.map((c) => `${fmtTokens(c)} tokens`)]),
    `|---|---:|---|${spec.contexts.map(() => '---:').join('|')}|`,
    ...rows.map((r) => line([r.name, String(r.bytesPerTokenPerLayer), r.formula, ...r.totals.map(fmtBytes)])),
    '', ...claims, ...fits, '',
  ].join('\n');
}
