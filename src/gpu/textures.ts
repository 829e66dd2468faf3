/**
 * The texture formats the kernels use: rgba32float, four f32 a texel (a vec4
 * of a kernel), read by textureLoad and written by textureStore or a copy
 * (the queries' texture, the cache decoded, the read-cost window, an edited
 * module's stand-in); and rgba32uint, four words a texel, where version 6
 * reads the cache as bf16 words (eight values a texel).
 */

export interface TextureSize {
  readonly width: number;
  readonly height: number;
}

export type KernelTextureFormat = 'rgba32float' | 'rgba32uint';

/** A 2D texture of `width` x `height` texels of `format` (rgba32float unless told), for `usage`. */
export function rgba32Texture(device: GPUDevice, label: string, size: TextureSize, usage: GPUTextureUsageFlags, format: KernelTextureFormat = 'rgba32float'): GPUTexture {
  return device.createTexture({ label, size: [size.width, size.height], format, usage });
}
