/**
 * The Web Worker behind cpu-worker.ts: runs one job (generate inputs, or the
 * chunked f64 reference), posting progress, then the result.
 */
import { generateInputs } from '../mla/inputs';
import { referenceOnCache } from '../reference/reference-chunked';
import type { CpuReply, CpuRequest } from './cpu-worker';

const post = (reply: CpuReply, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(reply, transfer);
const progress = (done: number, total: number) => post({ kind: 'progress', done, total });

self.onmessage = (e: MessageEvent<CpuRequest>) => {
  const job = e.data;
  try {
    if (job.kind === 'generate') {
      const inputs = generateInputs(job.request.shape, { ...job.request.options, onProgress: progress });
      // Hand the large arrays over instead of copying them.
      post({ kind: 'inputs', inputs }, [inputs.q.buffer, inputs.kvRows.buffer, ...(inputs.cacheBytes ? [inputs.cacheBytes.buffer] : [])]);
    } else {
      const result = referenceOnCache(job.inputs, job.cacheBytes, job.layout, { onProgress: progress });
      post({ kind: 'reference', result }, [result.out.buffer, result.lse.buffer]);
    }
  } catch (err) {
    post({ kind: 'error', message: (err as Error).message });
  }
};
