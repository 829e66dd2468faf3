/**
 * The Web Worker behind cpu-worker.ts: runs one job (generate inputs, the
 * sparse pipeline's case, the chunked f64 reference, or a GQA call's), posting progress,
 * then the result, its large arrays handed over rather than copied.
 */
import { type MlaInputs, generateInputs } from '../mla/inputs';
import { generateSparseCase } from '../indexer/sparse-pipeline';
import { referenceOnCache } from '../reference/reference-chunked';
import { referenceGqa } from '../reference/reference-gqa';
import type { CpuReply, CpuRequest } from './cpu-worker';

const post = (reply: CpuReply, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(reply, transfer);
const progress = (done: number, total: number) => post({ kind: 'progress', done, total });
const inputArrays = (inputs: MlaInputs): Transferable[] => [inputs.q.buffer, inputs.kvRows.buffer, ...(inputs.cacheBytes ? [inputs.cacheBytes.buffer] : [])];

self.onmessage = (e: MessageEvent<CpuRequest>) => {
  const job = e.data;
  try {
    if (job.kind === 'generate') {
      const inputs = generateInputs(job.request.shape, { ...job.request.options, onProgress: progress });
      post({ kind: 'inputs', inputs }, inputArrays(inputs));
    } else if (job.kind === 'sparse-case') {
      const c = generateSparseCase(job.request.shape, { ...job.request.options, onProgress: progress });
      const ix = c.indexer;
      post({ kind: 'sparse-case', sparseCase: c }, [...inputArrays(c.dense), ix.qCodes.buffer, ix.qScales.buffer, ix.weights.buffer, ix.cache.buffer]);
    } else {
      const result = job.kind === 'gqa-reference' ? referenceGqa(job.call, job.kvRows) : referenceOnCache(job.inputs, job.cacheBytes, job.layout, { onProgress: progress });
      post({ kind: 'reference', result }, [result.out.buffer, result.lse.buffer, ...(result.maxLogits ? [result.maxLogits.buffer] : [])]);
    }
  } catch (err) {
    post({ kind: 'error', message: (err as Error).message });
  }
};
