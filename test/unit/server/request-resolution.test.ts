/**
 * `Start` validation and resolution, and the conversion of processor parameters from the wire: each
 * refusal names the field, the bound and the value given.
 */
import { status as Status } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';
import { DecodeMode, LogitsFormat, SelectionMode, Start } from '../../../src/gen/stepwise/v1/stepwise.js';
import { loadModel } from '../../../src/runtime/index.js';
import type { ModelRuntime } from '../../../src/runtime/types.js';
import { fromWireParamValue, toWireParamValue } from '../../../src/server/param-values.js';
import { resolveServerLimits } from '../../../src/server/server-limits.js';
import { ModelDefaults } from '../../../src/server/model-defaults.js';
import { resolveStart } from '../../../src/server/start-request.js';
import { ServerError } from '../../../src/server/status.js';
import { tinyModels } from '../../fixtures/models.js';

let model: ModelRuntime;
beforeAll(async () => {
  model = await loadModel(tinyModels.reluTied);
  return () => model.dispose();
});

const limits = () => resolveServerLimits({ maxNewTokens: 100, maxInputTokens: 16 }, model.info.maxInputLength);
const resolve = (start: Parameters<typeof Start.fromPartial>[0], rpc: 'decode' | 'generate' = 'decode') =>
  resolveStart(Start.fromPartial(start), rpc, model, limits(), new ModelDefaults(model.info.generation));

function refusal(action: () => unknown): ServerError {
  try {
    action();
  } catch (error) {
    if (error instanceof ServerError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('resolving Start', () => {
  it('fills the defaults: the limit for max_new_tokens, float32 logits, greedy, LOCKSTEP for Decode, AUTO for Generate', () => {
    const resolved = resolve({ input: { $case: 'text', value: 'the house' } });
    expect(resolved.plan).toMatchObject({
      inputIds: model.tokenizer.encode('the house'),
      maxNewTokens: 100,
      mode: 'lockstep',
      stream: { rawLogits: { kind: 'float32' }, processedScores: false, topNAlternatives: 0, entropy: false },
    });
    expect(resolved.selection).toEqual({ mode: 'greedy', seed: 0n });
    expect(resolve({ input: { $case: 'text', value: 'x' } }, 'generate').plan.mode).toBe('auto');
  });

  it('sampling takes the given seed, or draws one', () => {
    expect(resolve({ input: { $case: 'text', value: 'x' }, selection: { mode: SelectionMode.SELECTION_MODE_SAMPLE, seed: 2n ** 63n } }).selection).toEqual({
      mode: 'sample',
      seed: 2n ** 63n,
    });
    expect(resolve({ input: { $case: 'text', value: 'x' }, generationConfig: { doSample: true } }).selection.mode).toBe('sample');
  });

  it.each([
    [{ input: { $case: 'text', value: 'x' }, maxNewTokens: 101 }, '`max_new_tokens` must be in [1, 100] (0 means the limit); given 101'],
    [{ input: { $case: 'tokenIds', value: { ids: Array.from({ length: 17 }, () => 5) } } }, '`token_ids.ids` must hold at most 16 ids (`max_input_tokens`); given 17'],
    [{ input: { $case: 'text', value: 'x' }, stream: { rawLogits: 9 as LogitsFormat } }, '`stream.raw_logits` must be one of FLOAT32, FLOAT16, TOP_K, NONE; given 9'],
    [{ input: { $case: 'text', value: 'x' }, mode: 7 as DecodeMode }, '`mode` must be one of LOCKSTEP, AUTO; given 7'],
    [{ input: { $case: 'text', value: 'x' }, stopTokenSequences: [{ ids: [] }] }, '`stop_token_sequences[0].ids` must hold at least one id; given 0'],
    [{ input: { $case: 'text', value: 'x' }, selection: { mode: 5 as SelectionMode } }, '`selection.mode` must be one of GREEDY, SAMPLE; given 5'],
  ] as const)('refuses %j with INVALID_ARGUMENT: %s', (start, message) => {
    const error = refusal(() => resolve(start as Parameters<typeof Start.fromPartial>[0]));
    expect(error.code).toBe(Status.INVALID_ARGUMENT);
    expect(error.message).toBe(message);
  });
});

describe('processor parameters from the wire', () => {
  it('converts every kind, nested lists included, and back', () => {
    const wire = {
      kind: {
        $case: 'listValue' as const,
        value: {
          values: [
            { kind: { $case: 'intValue' as const, value: -3n } },
            { kind: { $case: 'floatValue' as const, value: 0.25 } },
            { kind: { $case: 'listValue' as const, value: { values: [{ kind: { $case: 'stringValue' as const, value: 'a' } }] } } },
            { kind: { $case: 'boolValue' as const, value: true } },
          ],
        },
      },
    };
    const converted = fromWireParamValue(wire, 'p');
    expect(converted).toEqual({
      kind: 'list',
      value: [
        { kind: 'int', value: -3 },
        { kind: 'float', value: 0.25 },
        { kind: 'list', value: [{ kind: 'string', value: 'a' }] },
        { kind: 'bool', value: true },
      ],
    });
    expect(toWireParamValue(converted)).toEqual(wire);
  });

  it('refuses integers a number cannot hold exactly, and values without a kind, naming the field', () => {
    const big = refusal(() => fromWireParamValue({ kind: { $case: 'intValue', value: 2n ** 60n } }, 'processors[0].params["n"]'));
    expect(big.message).toBe(
      `\`processors[0].params["n"]\` must be in [${Number.MIN_SAFE_INTEGER}, ${Number.MAX_SAFE_INTEGER}]; given ${2n ** 60n}`,
    );
    expect(refusal(() => fromWireParamValue({ kind: undefined }, 'x')).message).toContain('`x` must hold a value');
  });
});

describe('server limits', () => {
  it('refuses an input limit above the model’s own, naming the option', () => {
    expect(() => resolveServerLimits({ maxInputTokens: model.info.maxInputLength + 1 }, model.info.maxInputLength)).toThrow(
      `server limit \`maxInputTokens\` must be in [1, ${model.info.maxInputLength}] (the model's max input length); given ${model.info.maxInputLength + 1}`,
    );
    expect(() => resolveServerLimits({ maxConcurrentStreams: 0 }, 512)).toThrow('`maxConcurrentStreams` must be a positive integer; given 0');
  });
});
