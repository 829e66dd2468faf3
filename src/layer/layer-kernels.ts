/**
 * Host side of the layer's two shaders: shaders/layer_gemm.wgsl (C = A op(B))
 * and shaders/layer_rows.wgsl (RMSNorm, RoPE, copies, MHA's softmax). Each
 * call becomes one compute pass with its own uniform, filled by the field
 * names of the shader's struct (read from the WGSL). Sizes the shader
 * cannot take (K not a multiple of 4, an operand not 16-byte aligned, a grid
 * too large) are refused here, naming the pass.
 */
import { bindGroup } from '../gpu/bindings';
import { grid2d } from '../gpu/grid';
import { getPipeline, shaderConstant } from '../gpu/pipelines';
import { SHADER_FILES } from '../gpu/shader-source';
import { packUniform, uniformFields } from '../gpu/wgsl-layout';
import type { KernelPass } from '../kernels/kernel-plan';
import type { PassOwner } from '../gpu/buffer-owner';
import type { BlockedMatrix } from './layer-buffers';

const GEMM_FIELDS = uniformFields(SHADER_FILES['layer_gemm.wgsl'], 'Gemm', 'layer_gemm.wgsl');
const ROW_FIELDS = uniformFields(SHADER_FILES['layer_rows.wgsl'], 'RowOp', 'layer_rows.wgsl');
const GEMM_WG = shaderConstant(SHADER_FILES['layer_gemm.wgsl'], 'WG');
/** llvmpipe ends a loop silently after 65535 iterations per invocation (docs/kernels.md). */
const MAX_LOOP_STEPS = 65535;

/** One operand: a buffer, where it starts and its strides, in f32 elements. */
export interface Operand {
  readonly buffer: GPUBuffer;
  readonly offset?: number;
  /** Elements from one row to the next. */
  readonly row: number;
  /** Elements from one batch entry to the next (default 0: the same matrix for every entry). */
  readonly batch?: number;
}

export interface GemmCall {
  readonly label: string;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly batches?: number;
  readonly a: Operand;
  readonly b: Operand;
  /** B stored [k][n] (P V) instead of a Linear's [n][k]. */
  readonly bKN?: boolean;
  readonly c: Operand;
  readonly accumulate?: boolean;
}

function requireQuads(label: string, what: string, value: number): void {
  if (value % 4 !== 0) throw new Error(`${label}: ${what} = ${value} must be a multiple of 4 (layer_gemm.wgsl reads vec4)`);
}

export async function gemmPass(owner: PassOwner, call: GemmCall): Promise<KernelPass> {
  const { device, limits } = owner.ctx;
  const { label, m, n, k, a, b, c } = call;
  const batches = call.batches ?? 1;
  if (m < 1 || n < 1 || k < 1) throw new Error(`${label}: an empty product (${m} x ${n} x ${k})`);
  requireQuads(label, 'K', k);
  if (k / 4 > MAX_LOOP_STEPS) throw new Error(`${label}: K = ${k} is ${k / 4} steps of the shader's loop, over the ${MAX_LOOP_STEPS} some drivers run (llvmpipe cuts longer loops silently)`);
  requireQuads(label, 'A\'s offset', a.offset ?? 0);
  requireQuads(label, 'A\'s row stride', a.row);
  requireQuads(label, 'A\'s batch stride', a.batch ?? 0);
  requireQuads(label, 'B\'s offset', b.offset ?? 0);
  requireQuads(label, 'B\'s row stride', b.row);
  requireQuads(label, 'B\'s batch stride', b.batch ?? 0);
  if (call.bKN && n % 8 !== 0) throw new Error(`${label}: N = ${n} must be a multiple of 8 when B is stored [k][n]`);
  const rows = m >= 8 ? 8 : 1;
  const pipeline = await getPipeline(device, {
    kernel: 'layer-gemm', files: ['layer_gemm.wgsl'], entryPoint: 'main', constants: { ROWS: rows, B_KN: call.bKN ? 1 : 0 },
  });
  const uniform = owner.uniform(`${label} gemm`, packUniform({
    m, n, k, accumulate: call.accumulate ? 1 : 0,
    a_offset: a.offset ?? 0, a_row: a.row, a_batch: a.batch ?? 0,
    b_offset: b.offset ?? 0, b_row: b.row, b_batch: b.batch ?? 0,
    c_offset: c.offset ?? 0, c_row: c.row, c_batch: c.batch ?? 0,
  }, GEMM_FIELDS, 'layer_gemm.wgsl'));
  const blocks = Math.ceil(n / 8) * Math.ceil(m / rows);
  return {
    label, pipeline,
    bindGroup: bindGroup(device, pipeline, label, { mat_a: a.buffer, mat_b: b.buffer, mat_c: c.buffer, gemm: uniform }),
    workgroups: grid2d(Math.ceil(blocks / GEMM_WG), limits.maxComputeWorkgroupsPerDimension, label, batches),
  };
}

export type RowEntry = 'rmsNorm' | 'ropeInPlace' | 'ropeFrom' | 'copyFrom' | 'softmaxRows';

export interface RowCall {
  readonly label: string;
  readonly entry: RowEntry;
  readonly rows: number;
  readonly width: number;
  /** The rows written (and read, in place). */
  readonly out: { readonly buffer: GPUBuffer; readonly offset?: number; readonly stride: number };
  /** ropeFrom / copyFrom: the rows read. */
  readonly from?: { readonly buffer: GPUBuffer; readonly offset?: number; readonly stride: number };
  /** rmsNorm's weight. */
  readonly weight?: GPUBuffer;
  /** RoPE: the (cos, sin) table of ropeTable(width, ...), row r at position posFirst + floor(r / rowsPerPos). */
  readonly table?: GPUBuffer;
  readonly posFirst?: number;
  readonly rowsPerPos?: number;
  /** softmaxRows: query tokens, causal or a key mask, the softmax scale. */
  readonly queries?: number;
  readonly causal?: boolean;
  /** softmaxRows reads key_mask (u32 [s_q, keys], 1 = seen) only when `masked`, but always binds it. */
  readonly mask?: GPUBuffer;
  readonly masked?: boolean;
  readonly scale?: number;
  readonly eps?: number;
}

export async function rowPass(owner: PassOwner, call: RowCall): Promise<KernelPass> {
  const { device, limits } = owner.ctx;
  const { label, entry } = call;
  const pipeline = await getPipeline(device, { kernel: 'layer-rows', files: ['layer_rows.wgsl'], entryPoint: entry, constants: {} });
  const need = (what: string, v: GPUBuffer | undefined): GPUBuffer => {
    if (!v) throw new Error(`${label}: ${entry} needs ${what}`);
    return v;
  };
  const uniform = owner.uniform(`${label} row op`, packUniform({
    rows: call.rows, width: call.width,
    in_offset: call.from?.offset ?? 0, in_stride: call.from?.stride ?? 0,
    out_offset: call.out.offset ?? 0, out_stride: call.out.stride,
    pos_first: call.posFirst ?? 0, rows_per_pos: call.rowsPerPos ?? 1,
    queries: call.queries ?? 1, causal: call.causal ? 1 : 0, masked: call.masked ? 1 : 0,
    eps: call.eps ?? 0, scale: call.scale ?? 1,
  }, ROW_FIELDS, 'layer_rows.wgsl'));
  const buffers: Parameters<typeof bindGroup>[3] = { rows: call.out.buffer, row_op: uniform };
  if (entry === 'rmsNorm') buffers.norm_weight = need('a weight', call.weight);
  if (entry === 'ropeInPlace' || entry === 'ropeFrom') buffers.rope_table = need('a RoPE table', call.table);
  if (entry === 'ropeFrom' || entry === 'copyFrom') buffers.rope_in = need('rows to read', call.from?.buffer);
  if (entry === 'softmaxRows') buffers.key_mask = need('a key mask (any buffer when not masked)', call.mask);
  return {
    label, pipeline,
    bindGroup: bindGroup(device, pipeline, label, buffers),
    workgroups: grid2d(call.rows, limits.maxComputeWorkgroupsPerDimension, label),
  };
}

/**
 * y = x W^T for a Linear's weight W [out, in] held in blocks of rows: one
 * product per block, each writing its block's columns of y (y's row stride
 * stays the whole out width).
 */
export function linearPasses(owner: PassOwner, label: string, m: number, x: Operand, w: BlockedMatrix, y: Operand): Promise<KernelPass[]> {
  return Promise.all(w.blocks.map((block) => gemmPass(owner, {
    label: w.blocks.length > 1 ? `${label} (rows ${block.firstRow}..${block.firstRow + block.rows - 1})` : label,
    m, n: block.rows, k: w.cols, a: x, b: { buffer: block.buffer, row: w.cols },
    c: { ...y, offset: (y.offset ?? 0) + block.firstRow },
  })));
}
