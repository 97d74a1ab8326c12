import { describe, expect, it } from 'vitest';
import {
  accept,
  addProcessor,
  drop,
  force,
  fork,
  reconfigure,
  removeProcessor,
  replaceProcessor,
  rewind,
  stepsDecidedAhead,
  stop,
  toDecodeRequest,
} from '../../../clients/ts/decisions.js';
import { PipelineScope } from '../../../clients/ts/proto.js';

describe('step decisions', () => {
  it('encodes accept as a decision for the given step', () => {
    expect(toDecodeRequest(3, accept())).toEqual({
      message: { $case: 'decision', value: { step: 3, action: { $case: 'accept', value: {} }, pipelineChanges: [], branch: 0 } },
    });
  });

  it('encodes one forced token as force_token and a run as force_tokens', () => {
    const one = toDecodeRequest(0, force(42));
    expect(one.message).toMatchObject({ value: { action: { $case: 'forceToken', value: { tokenId: 42 } } } });
    const run = toDecodeRequest(1, force([5, 6, 7]));
    expect(run.message).toMatchObject({ value: { step: 1, action: { $case: 'forceTokens', value: { tokenIds: [5, 6, 7] } } } });
  });

  it('counts the steps of a forced run that the server streams without waiting', () => {
    expect(stepsDecidedAhead(force([5, 6, 7]))).toBe(2);
    expect(stepsDecidedAhead(force(5))).toBe(0);
    expect(stepsDecidedAhead(accept())).toBe(0);
  });

  it('encodes stop as the Stop message, not as a step decision', () => {
    expect(toDecodeRequest(9, stop())).toEqual({ message: { $case: 'stop', value: { branch: 0 } } });
  });

  it('encodes fork, drop, a decision and a stop for a named branch', () => {
    expect(toDecodeRequest(2, fork(5), 3)).toEqual({
      message: { $case: 'decision', value: { step: 2, action: { $case: 'fork', value: { branch: 5 } }, pipelineChanges: [], branch: 3 } },
    });
    expect(toDecodeRequest(2, drop(), 3).message).toMatchObject({ value: { action: { $case: 'drop', value: {} }, branch: 3 } });
    expect(toDecodeRequest(2, force(7), 3).message).toMatchObject({ value: { action: { $case: 'forceToken' }, branch: 3 } });
    expect(toDecodeRequest(0, stop(), 3)).toEqual({ message: { $case: 'stop', value: { branch: 3 } } });
    expect(() => fork(0)).toThrow('fork branch must be an integer in [1, 2^31); given 0');
    expect(() => fork(2 ** 31)).toThrow(RangeError);
  });

  it('encodes pipeline changes in order, with their scope and typed parameters', () => {
    const request = toDecodeRequest(
      2,
      reconfigure([
        addProcessor({ name: 'top_k', params: { top_k: 5 } }, { index: 0, scope: 'this-step' }),
        replaceProcessor({ name: 'temperature', params: { temperature: 0.5 } }),
        removeProcessor('top_p', { scope: 'from-now-on' }),
      ]),
    );
    const value = request.message?.$case === 'decision' ? request.message.value : undefined;
    expect(value?.pipelineChanges).toEqual([
      {
        change: { $case: 'add', value: { processor: { name: 'top_k', params: { top_k: { kind: { $case: 'intValue', value: 5n } } } }, index: 0 } },
        scope: PipelineScope.PIPELINE_SCOPE_THIS_STEP,
      },
      {
        change: { $case: 'replace', value: { name: 'temperature', params: { temperature: { kind: { $case: 'floatValue', value: 0.5 } } } } },
        scope: PipelineScope.PIPELINE_SCOPE_UNSPECIFIED,
      },
      { change: { $case: 'remove', value: 'top_p' }, scope: PipelineScope.PIPELINE_SCOPE_FROM_NOW_ON },
    ]);
  });

  it('rejects an empty forced run, a negative id and a rewind of less than one token, naming the value', () => {
    expect(() => force([])).toThrow('force needs at least one token id; given none');
    expect(() => force([1, -3])).toThrow('forced token id [1] must be a non-negative integer; given -3');
    expect(() => rewind(0)).toThrow('rewind count must be an integer >= 1; given 0');
    expect(() => reconfigure([])).toThrow('reconfigure needs at least one pipeline change; given none');
  });
});
