/**
 * `npx tsx bench/heavy-requests.ts`: what the heaviest single requests the server accepts (and the ones past
 * its bounds, which it refuses) cost everyone else: for each, its wall time, the worst latency of health
 * checks sent every 5 ms while it ran, and the server's RSS after it. The server is `stepwise serve` as
 * composed for the benchmark (the t5-small-shaped model with the real t5-small tokenizer when present), in a
 * child process; requests and health checks come from this one. Run on demand; not part of the tests.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { GenerateRequest, StepwiseServiceClient } from '../src/gen/stepwise/v1/stepwise.js';
import { HuggingFaceTextTokenizer } from '../src/runtime/index.js';
import { BENCH_MODEL_FOLDER, ensureBenchModel } from './bench-model.js';
import { HealthProbe } from './health-probe.js';
import { ask, firstAnswer, type ServerAnswer } from './ipc.js';

const log = (line: string) => process.stderr.write(`${line}\n`);

type Call = (client: StepwiseServiceClient) => Promise<string>;

/** A Generate of 4 tokens with `start`'s fields; resolves with its status code's name. */
const generate =
  (start: object): Call =>
  (client) =>
    new Promise((resolve) => {
      const call = client.generate(GenerateRequest.fromPartial({ start: { maxNewTokens: 4, ...start } }));
      call.on('data', () => {});
      call.on('error', (error: ServiceError) => resolve(`code ${error.code}: ${error.details.slice(0, 60)}`));
      call.on('end', () => resolve('OK'));
    });

const unary =
  (method: 'tokenize' | 'detokenize', request: object): Call =>
  (client) =>
    new Promise((resolve) =>
      (client[method] as (r: object, cb: (e: ServiceError | null) => void) => void)(request, (error) =>
        resolve(error === null ? 'OK' : `code ${error.code}: ${error.details.slice(0, 60)}`),
      ),
    );

function intList(values: readonly number[]) {
  return { kind: { $case: 'listValue', value: { values: values.map((value) => ({ kind: { $case: 'intValue', value: BigInt(value) } })) } } };
}

async function main(): Promise<void> {
  await ensureBenchModel();
  const tokenizer = await HuggingFaceTextTokenizer.load(BENCH_MODEL_FOLDER);
  // Words of the vocabulary, for texts, choices and patterns made of real pieces.
  const words = Array.from({ length: 4000 }, (_, id) => tokenizer.tokenString(id + 100) ?? '')
    .filter((piece) => /^▁[a-z]{3,}$/.test(piece))
    .map((piece) => piece.slice(1));
  const text = (bytes: number) => {
    let out = 'translate English to German:';
    for (let i = 0; out.length < bytes; i++) out += ` ${words[i % words.length]}`;
    return out.slice(0, bytes);
  };
  const choices: string[] = [];
  for (let i = 0, total = 0; choices.length < 1024; i++) {
    const choice = `${words[i % words.length]} ${words[(i * 7 + 3) % words.length]}`;
    if (total + choice.length > 16_384) break;
    choices.push(choice);
    total += choice.length;
  }
  const alternation = words.slice(0, 1100).join('|');
  const cases: Array<[string, Call]> = [
    ['Generate, text of 8,192 bytes (the default limit; more than 512 tokens, refused after tokenizing)', generate({ input: { $case: 'text', value: text(8192) } })],
    ['Generate, text of 2,000 bytes (about 400 tokens)', generate({ input: { $case: 'text', value: text(2000) } })],
    ['Generate, text of 3.9 MB (refused)', generate({ input: { $case: 'text', value: 'x'.repeat(3_900_000) } })],
    ['Tokenize, 8,192 bytes', unary('tokenize', { text: text(8192) })],
    ['Detokenize, 16,384 ids', unary('detokenize', { tokenIds: Array.from({ length: 16_384 }, (_, i) => 100 + (i % 30_000)) })],
    [`Generate, choice of ${choices.length} choices`, generate({ input: { $case: 'text', value: 'hi' }, processors: [{ name: 'choice', params: { choices: { kind: { $case: 'listValue', value: { values: choices.map((c) => ({ kind: { $case: 'stringValue', value: c } })) } } } } }] })],
    ['Generate, regex of 2 × 1,100 words', generate({ input: { $case: 'text', value: 'hi' }, processors: [{ name: 'regex', params: { pattern: { kind: { $case: 'stringValue', value: `(${alternation})( (${alternation}))*` } } } }] })],
    ['Generate, regex ".{0,1000}" × 19 (refused)', generate({ input: { $case: 'text', value: 'hi' }, processors: [{ name: 'regex', params: { pattern: { kind: { $case: 'stringValue', value: '.{0,1000}'.repeat(19) } } } }] })],
    ['Generate, ban_tokens of 32,768 ids', generate({ input: { $case: 'text', value: 'hi' }, processors: [{ name: 'ban_tokens', params: { token_ids: intList(Array.from({ length: 32_768 }, (_, i) => 100 + (i % 30_000))) } }] })],
    ['Generate, sequence_bias of 1,024 × 32 ids', generate({ input: { $case: 'text', value: 'hi' }, processors: [{ name: 'sequence_bias', params: { sequence_bias: { kind: { $case: 'listValue', value: { values: Array.from({ length: 1024 }, (_, i) => ({ kind: { $case: 'listValue', value: { values: [intList([100 + i, ...Array.from({ length: 31 }, (_, j) => 5000 + ((i * 31 + j) % 25_000))]), { kind: { $case: 'floatValue', value: -1.5 } }] } } })) } } } } }] })],
  ];

  const child = fork(fileURLToPath(new URL('./server-process.ts', import.meta.url)), [JSON.stringify({ modelDir: BENCH_MODEL_FOLDER })], {
    execArgv: [...process.execArgv, '--expose-gc'],
  });
  const ready = await firstAnswer<ServerAnswer>(child);
  if (ready.kind !== 'ready') throw new Error(`the server child answered ${ready.kind}`);
  const address = `127.0.0.1:${ready.port}`;
  const client = new StepwiseServiceClient(address, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  const health = new HealthProbe(address);
  try {
    await health.check();
    const rss = async () => (await ask<Extract<ServerAnswer, { kind: 'memory' }>>(child, { kind: 'memory' })).rssBytes / 2 ** 20;
    log(`server RSS idle: ${(await rss()).toFixed(1)} MiB`);
    const lines = ['| request | outcome | wall ms | worst health check ms | RSS after, MiB |', '| --- | --- | ---: | ---: | ---: |'];
    for (const [label, call] of cases) {
      for (let round = 0; round < 2; round++) {
        const begin = performance.now();
        const outcome = call(client);
        const checks = await health.pollWhile(outcome, 5);
        const wall = performance.now() - begin;
        if (round === 0) continue; // the first round warms the code up; the second is reported
        lines.push(`| ${label} | ${await outcome} | ${wall.toFixed(0)} | ${Math.max(...checks).toFixed(1)} | ${(await rss()).toFixed(1)} |`);
        log(lines.at(-1)!);
      }
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    health.close();
    client.close();
    await ask(child, { kind: 'stop' }).catch(() => child.kill());
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`heavy-requests failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
