/**
 * WGSL sources of the kernels, and how a kernel's module is put together.
 *
 * WGSL has no #include: a kernel's module is its own file appended to the
 * shared files it needs (the cache reader, a key source). `composeShader`
 * does that concatenation (a file of directives first) and remembers which
 * lines came from which file, so
 * a compile error is reported as `v4_tiled.wgsl:57`, not as a line of
 * the concatenation. It also makes a register block's strip as wide as the
 * module needs (WIDE_LINE).
 */
import params from '../../shaders/params.wgsl?raw';
import fp8 from '../../shaders/fp8.wgsl?raw';
import kvCache from '../../shaders/kv_cache.wgsl?raw';
import kvShards from '../../shaders/kv_shards.wgsl?raw';
import keysDense from '../../shaders/keys_dense.wgsl?raw';
import keysSparse from '../../shaders/keys_sparse.wgsl?raw';
import fusedIo from '../../shaders/fused_io.wgsl?raw';
import keyTile from '../../shaders/key_tile.wgsl?raw';
import v1Naive from '../../shaders/v1_naive.wgsl?raw';
import v2Fused from '../../shaders/v2_fused.wgsl?raw';
import v3SharedLatent from '../../shaders/v3_shared_latent.wgsl?raw';
import v4Tiled from '../../shaders/v4_tiled.wgsl?raw';
import tiledBlocks from '../../shaders/tiled_blocks.wgsl?raw';
import headQuads from '../../shaders/head_quads.wgsl?raw';
import subgroupTeams from '../../shaders/subgroup_teams.wgsl?raw';
import v5Subgroups from '../../shaders/v5_subgroups.wgsl?raw';
import combine from '../../shaders/combine.wgsl?raw';
import roofline from '../../shaders/roofline.wgsl?raw';
import loopProbe from '../../shaders/loop_probe.wgsl?raw';
import plainMatmul from '../../shaders/plain_matmul.wgsl?raw';
import layerGemm from '../../shaders/layer_gemm.wgsl?raw';
import layerRows from '../../shaders/layer_rows.wgsl?raw';
import indexerCall from '../../shaders/indexer_call.wgsl?raw';
import indexerDecode from '../../shaders/indexer_decode.wgsl?raw';
import indexerScores from '../../shaders/indexer_scores.wgsl?raw';
import topk from '../../shaders/topk.wgsl?raw';
import queryTexture from '../../shaders/query_texture.wgsl?raw';
import cacheTexture from '../../shaders/cache_texture.wgsl?raw';
import v6Cache from '../../shaders/v6_cache.wgsl?raw';
import v6Layout from '../../shaders/v6_layout.wgsl?raw';
import v6Scores from '../../shaders/v6_scores.wgsl?raw';
import v6Softmax from '../../shaders/v6_softmax.wgsl?raw';
import v6Values from '../../shaders/v6_values.wgsl?raw';

export const SHADER_FILES = {
  'params.wgsl': params,
  'fp8.wgsl': fp8,
  'kv_cache.wgsl': kvCache,
  'kv_shards.wgsl': kvShards,
  'keys_dense.wgsl': keysDense,
  'keys_sparse.wgsl': keysSparse,
  'fused_io.wgsl': fusedIo,
  'key_tile.wgsl': keyTile,
  'v1_naive.wgsl': v1Naive,
  'v2_fused.wgsl': v2Fused,
  'v3_shared_latent.wgsl': v3SharedLatent,
  'tiled_blocks.wgsl': tiledBlocks,
  'head_quads.wgsl': headQuads,
  'v4_tiled.wgsl': v4Tiled,
  'subgroup_teams.wgsl': subgroupTeams,
  'v5_subgroups.wgsl': v5Subgroups,
  'combine.wgsl': combine,
  'roofline.wgsl': roofline,
  'loop_probe.wgsl': loopProbe,
  'plain_matmul.wgsl': plainMatmul,
  'layer_gemm.wgsl': layerGemm,
  'layer_rows.wgsl': layerRows,
  'indexer_call.wgsl': indexerCall,
  'indexer_decode.wgsl': indexerDecode,
  'indexer_scores.wgsl': indexerScores,
  'topk.wgsl': topk,
  'query_texture.wgsl': queryTexture,
  'cache_texture.wgsl': cacheTexture,
  'v6_scores.wgsl': v6Scores,
  'v6_softmax.wgsl': v6Softmax,
  'v6_values.wgsl': v6Values,
  'v6_layout.wgsl': v6Layout,
  'v6_cache.wgsl': v6Cache,
} as const;

export type ShaderFileName = keyof typeof SHADER_FILES;
export const SHADER_FILE_NAMES = Object.keys(SHADER_FILES) as ShaderFileName[];

/** Replacement sources for some files (the page's editor, tests of broken shaders). */
export type ShaderEdits = Partial<Record<ShaderFileName, string>>;

export interface ComposedShader {
  readonly code: string;
  /** Files in order with the first line (1-based) each starts at in `code`. */
  readonly parts: readonly { file: ShaderFileName; firstLine: number; lines: number }[];
}

/** Files that open with module directives (`enable`, `diagnostic`), which WGSL wants before any declaration. */
export const DIRECTIVE_FILES: readonly ShaderFileName[] = ['subgroup_teams.wgsl'];

/**
 * The mark that ends a line present only in a module with a 32-head register
 * block (head_quads.wgsl): the strip of such a block is eight mat4x4 wide,
 * four elsewhere. A struct's size is not an override, and SwiftShader
 * compiles the tiled versions about 2.3x slower with the wide strip, used or
 * not; so a module without a 32-head block has these lines blanked (left
 * empty, so that line numbers stay those of the file).
 */
export const WIDE_LINE = '// [32 heads]';

/**
 * The mark that ends a line present only in a module whose decoded key tile
 * is kept in a storage buffer (key_tile.wgsl, `--keys tile-storage`): the
 * buffer's binding and the lines that use it. A module declares every
 * storage buffer it binds whether its entry point uses it or not (Dawn
 * counts them against maxStorageBuffersPerShaderStage, 8 on many devices,
 * which version 4's other buffers fill), so the others have them blanked.
 */
export const STORAGE_TILE_LINE = '// [storage tile]';

/**
 * Lines marked so are kept only in a module whose score step reads the
 * queries from a texture (tiled_blocks.wgsl, `--queries texture`): the
 * texture's binding and the read. An entry point that uses a texture must be
 * given one, so the other modules have them blanked.
 */
export const QUERY_TEXTURE_LINE = '// [query texture]';

/**
 * Lines marked so are kept only in a module that reads the cache decoded
 * into a texture (key_tile.wgsl, `--keys texture`): the texture's binding
 * and its reads, blanked in the other modules for the same reason.
 */
export const CACHE_TEXTURE_LINE = '// [cache texture]';

/**
 * Lines marked so are kept only in a module that reads the cache as bf16
 * words from an rgba32uint texture (version 6: v6_cache.wgsl) or decodes it
 * into them (cache_texture.wgsl); the quads' lines (CACHE_TEXTURE_LINE) are
 * blanked there, and these elsewhere.
 */
export const CACHE_WORDS_LINE = '// [cache words]';

/**
 * Lines marked so exist only in a module whose output block is 64 values
 * wide (tiled_blocks.wgsl, OUT_VALUES 64: sixteen strips a thread, eight
 * more than any other block): the other modules keep the output block at
 * eight strips, so that what SwiftShader compiles does not grow with a
 * block they do not use (as with WIDE_LINE).
 */
export const LONG_ROW_LINE = '// [64 values]';

export interface ComposeOptions {
  /** Keep the lines marked WIDE_LINE (a module with a 32-head register block). */
  readonly wideStrips?: boolean;
  /** Keep the lines marked LONG_ROW_LINE (a module with a 64-value output block). */
  readonly longRows?: boolean;
  /** Keep the lines marked STORAGE_TILE_LINE (a module whose decoded tile is in a storage buffer). */
  readonly storageTile?: boolean;
  /** Keep the lines marked QUERY_TEXTURE_LINE (a module that reads the queries from a texture). */
  readonly queryTexture?: boolean;
  /** Keep the lines marked CACHE_TEXTURE_LINE (a module that reads the cache decoded into a texture). */
  readonly cacheTexture?: boolean;
  /** Keep the lines marked CACHE_WORDS_LINE (a module that reads the cache as bf16 words, or decodes it into them). */
  readonly cacheWords?: boolean;
}

/** The marks of the lines a module keeps only when asked (ComposeOptions), each with its option. */
const MARKED_LINES = [[WIDE_LINE, 'wideStrips'], [LONG_ROW_LINE, 'longRows'], [STORAGE_TILE_LINE, 'storageTile'], [QUERY_TEXTURE_LINE, 'queryTexture'], [CACHE_TEXTURE_LINE, 'cacheTexture'],
  [CACHE_WORDS_LINE, 'cacheWords']] as const;

/** The options of ComposeOptions, each keeping one mark's lines. */
export const COMPOSE_OPTIONS: readonly (keyof ComposeOptions)[] = MARKED_LINES.map(([, option]) => option);

const blankMarkedLines = (src: string, options: ComposeOptions) => {
  const blanked = MARKED_LINES.filter(([, option]) => !options[option]).map(([mark]) => mark);
  return src.split('\n').map((l) => (blanked.some((mark) => l.trimEnd().endsWith(mark)) ? '' : l)).join('\n');
};

export function composeShader(files: readonly ShaderFileName[], edits: ShaderEdits = {}, options: ComposeOptions = {}): ComposedShader {
  const parts: { file: ShaderFileName; firstLine: number; lines: number }[] = [];
  const chunks: string[] = [];
  let line = 1;
  const ordered = [...files.filter((f) => DIRECTIVE_FILES.includes(f)), ...files.filter((f) => !DIRECTIVE_FILES.includes(f))];
  for (const file of ordered) {
    const given = edits[file] ?? SHADER_FILES[file];
    const src = blankMarkedLines(given, options).replace(/\n?$/, '\n');
    const lines = src.split('\n').length - 1;
    parts.push({ file, firstLine: line, lines });
    chunks.push(src);
    line += lines;
  }
  return { code: chunks.join(''), parts };
}

/** Map a line of the composed code back to its file and line. */
export function locateLine(shader: ComposedShader, line: number): { file: ShaderFileName; line: number } | undefined {
  for (const p of shader.parts) {
    if (line >= p.firstLine && line < p.firstLine + p.lines) return { file: p.file, line: line - p.firstLine + 1 };
  }
  return undefined;
}
