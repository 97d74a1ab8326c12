/**
 * Numeric kernels shared by the runtime and the processors (below both): the greedy rule on a row of
 * scores, and the WebAssembly SIMD kernel for a row's finite maximum and exponential sums.
 */
export { argmaxOfFinite, argmaxOfFiniteLoop } from './argmax.js';
export { expSumsKernel, KERNEL_SWITCH, type ExpSumsKernel } from './exp-sums-kernel.js';
export { float16BitsOf, float16BitsOfFloat32Bits, float16Value, narrowToFloat16, widenFloat16 } from './float16.js';
