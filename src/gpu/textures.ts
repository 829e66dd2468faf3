/**
 * The one texture format the kernels use: rgba32float, four f32 a texel (a
 * vec4 of a kernel), read by textureLoad and written by textureStore or a
 * copy (the queries' texture, the read-cost window, an edited module's
 * stand-in).
 */

export interface TextureSize {
  readonly width: number;
  readonly height: number;
}

/** A 2D texture of `width` x `height` rgba32float texels, for `usage`. */
export function rgba32Texture(device: GPUDevice, label: string, size: TextureSize, usage: GPUTextureUsageFlags): GPUTexture {
  return device.createTexture({ label, size: [size.width, size.height], format: 'rgba32float', usage });
}
