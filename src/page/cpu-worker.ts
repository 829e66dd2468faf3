/**
 * The page's CPU work off the main thread: generating a run's inputs (a
 * 256K-token cache is a hundred million random numbers) and the f64
 * reference (billions of multiply-adds), each in a Web Worker
 * (cpu-worker-main.ts), so the page keeps answering while they run and
 * Cancel ends them at once (the worker is terminated).
 */
import type { MlaInputs } from '../mla/inputs';
import type { AttentionResult } from '../reference/reference';
import type { KvLayout } from '../mla/kv-layout';
import type { GenerationRequest } from '../run/run-options';
import type { MlaShape } from '../mla/shape';
import type { SparseCase, SparseCaseOptions } from '../indexer/sparse-pipeline';
import type { GqaCall } from '../mla/gqa';

/** What generateSparseCase is called with (no callbacks, no own indexer inputs: it can be posted to a worker). */
export interface SparseCaseRequest {
  readonly shape: MlaShape;
  readonly options: Omit<SparseCaseOptions, 'onProgress' | 'indexer'>;
}

/** What the page posts to the worker. */
export type CpuRequest =
  | { readonly kind: 'generate'; readonly request: GenerationRequest }
  | { readonly kind: 'sparse-case'; readonly request: SparseCaseRequest }
  | { readonly kind: 'reference'; readonly inputs: MlaInputs; readonly cacheBytes: Uint8Array; readonly layout: KvLayout }
  | { readonly kind: 'gqa-reference'; readonly call: Omit<GqaCall, 'kvRows'>; readonly kvRows: Float32Array };

/** What the worker posts back. */
export type CpuReply =
  | { readonly kind: 'progress'; readonly done: number; readonly total: number }
  | { readonly kind: 'inputs'; readonly inputs: MlaInputs }
  | { readonly kind: 'sparse-case'; readonly sparseCase: SparseCase }
  | { readonly kind: 'reference'; readonly result: AttentionResult }
  | { readonly kind: 'error'; readonly message: string };

/**
 * One job in a fresh worker; `signal` terminates it and rejects with an
 * AbortError. Progress starts at 0 of 1 at once: a job that reports none
 * until its first chunk (or at all) still says what the page is doing.
 */
function inWorker<T>(request: CpuRequest, onProgress: (done: number, total: number) => void, signal?: AbortSignal, transfer: Transferable[] = []): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    signal?.throwIfAborted();
    const worker = new Worker(new URL('./cpu-worker-main.ts', import.meta.url), { type: 'module', name: `mla-sandbox ${request.kind}` });
    const stop = () => {
      worker.terminate();
      reject(signal?.reason ?? new DOMException('cancelled', 'AbortError'));
    };
    signal?.addEventListener('abort', stop, { once: true });
    const done = () => {
      signal?.removeEventListener('abort', stop);
      worker.terminate();
    };
    worker.onmessage = (e: MessageEvent<CpuReply>) => {
      const reply = e.data;
      if (reply.kind === 'progress') { onProgress(reply.done, reply.total); return; }
      done();
      if (reply.kind === 'error') reject(new Error(reply.message));
      else resolve((reply.kind === 'inputs' ? reply.inputs : reply.kind === 'sparse-case' ? reply.sparseCase : reply.result) as T);
    };
    worker.onerror = (e) => {
      done();
      reject(new Error(`the page's worker failed: ${e.message}`));
    };
    worker.postMessage(request, transfer);
    onProgress(0, 1);
  });
}

/** Generate a run's inputs in a worker. */
export function generateInWorker(request: GenerationRequest, onProgress: (done: number, total: number) => void, signal?: AbortSignal): Promise<MlaInputs> {
  return inWorker<MlaInputs>({ kind: 'generate', request }, onProgress, signal);
}

/** Generate the sparse pipeline's case (the attention cache, the indexer's inputs, planted tokens) in a worker. */
export function sparseCaseInWorker(request: SparseCaseRequest, onProgress: (done: number, total: number) => void, signal?: AbortSignal): Promise<SparseCase> {
  return inWorker<SparseCase>({ kind: 'sparse-case', request }, onProgress, signal);
}

/**
 * The reference on the cache bytes a run uploaded, in a worker. The bytes
 * move to the worker (transferred, not copied: the run has uploaded them and
 * reads them no more), so a long cache is never held twice; the inputs' f32
 * rows stay behind.
 */
export function referenceInWorker(inputs: MlaInputs, cacheBytes: Uint8Array, layout: KvLayout, onProgress: (done: number, total: number) => void, signal?: AbortSignal): Promise<AttentionResult> {
  const { kvRows: _rows, cacheBytes: _bytes, ...rest } = inputs;
  const whole = cacheBytes.byteOffset === 0 && cacheBytes.byteLength === cacheBytes.buffer.byteLength;
  return inWorker<AttentionResult>({ kind: 'reference', inputs: { ...rest, kvRows: new Float32Array(0) }, cacheBytes, layout }, onProgress, signal, whole ? [cacheBytes.buffer] : []);
}

/** The reference on a GQA call as given (reference/reference-gqa.ts), in a worker; the rows move to it. */
export function gqaReferenceInWorker(call: Omit<GqaCall, 'kvRows'>, kvRows: Float32Array, onProgress: (done: number, total: number) => void, signal?: AbortSignal): Promise<AttentionResult> {
  return inWorker<AttentionResult>({ kind: 'gqa-reference', call, kvRows }, onProgress, signal, [kvRows.buffer]);
}
