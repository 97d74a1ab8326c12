/**
 * CPU time spent by a benchmark child, to say where the time outside ONNX Runtime goes: the whole process
 * (every thread) and, on Linux, its main thread alone, from the kernel's per-thread scheduler statistics
 * (nanoseconds, not the 10 ms ticks of `/proc/.../stat`). In the server child the main thread is the serving
 * thread (gRPC, processors, selection); the model thread and ONNX Runtime's threads are the others.
 */
import { readFileSync } from 'node:fs';

/** CPU time of every thread of this process so far, in milliseconds. */
export function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU time of this process's main thread so far, in milliseconds; NaN where Linux's schedstat is missing. */
export function mainThreadCpuMs(): number {
  try {
    // The main thread's id is the process id; the first field is its time on a CPU, in nanoseconds.
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}
