/**
 * Starts a worker thread on a module beside the caller's, in the caller's own form: `NAME.js` when the
 * caller is built JavaScript (`dist/`), `NAME.ts` when it is TypeScript source run by `tsx` (tests, the
 * benchmark). A worker does not inherit its parent's module loader, so a TypeScript entry is imported
 * from a bootstrap that registers `tsx` first.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` without extension, resolved beside `callerUrl` (the caller's `import.meta.url`). */
export function startModuleWorker(name: string, callerUrl: string, options: WorkerOptions): Worker {
  const source = fileURLToPath(callerUrl).endsWith('.ts');
  const entry = new URL(`./${name}.${source ? 'ts' : 'js'}`, callerUrl);
  if (!source) return new Worker(entry, options);
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import { register } from ${JSON.stringify(tsx)}; register(); await import(${JSON.stringify(entry.href)});`;
  return new Worker(bootstrap, { ...options, eval: true });
}
