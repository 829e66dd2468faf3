/**
 * Run GPU work inside validation and out-of-memory error scopes. WebGPU
 * reports most errors asynchronously to the scope, not by throwing: without
 * this, an invalid pipeline silently submits nothing (and "runs" in no time).
 */
export async function withErrorScopes<T>(device: GPUDevice, body: () => Promise<T> | T, onError: (message: string) => Error): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T | undefined;
  let thrown: unknown;
  try {
    result = await body();
  } catch (e) {
    thrown = e;
  }
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  const error = validation ?? oom;
  if (error) throw onError(error.message);
  if (thrown !== undefined) throw thrown;
  return result as T;
}
