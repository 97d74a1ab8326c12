/**
 * The log's formats and sources: pino writes JSON lines (level by name, ISO time, fields as keys, a cause
 * with its stack and chain) or one pretty line per event; the level filters; grpc-js's own lines come
 * through the same logger; a stream's report is read off the messages it sends.
 */
import 'reflect-metadata';
import { experimental, logVerbosity, Metadata, setLogger } from '@grpc/grpc-js';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { FinishReason, TokenSource } from '../../../src/gen/stepwise/v1/stepwise.js';
import { ANONYMOUS_CALLER, callerOf } from '../../../src/server/bearer-auth.js';
import { routeGrpcLogs, routeProcessWarnings } from '../../../src/server/log-routing.js';
import { MemoryLogger } from '../../../src/server/logger.js';
import { createLogger, type LogFormat } from '../../../src/server/pino-logger.js';
import type { StreamMetrics, StreamMetricsByModel } from '../../../src/server/server-metrics.js';
import { StreamReport } from '../../../src/server/stream-report.js';

/** A logger writing into memory, one string per line. */
function capturedLogger(format: LogFormat, level: 'debug' | 'info' | 'warn' = 'info') {
  const written: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      written.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ format, level, destination });
  return { logger, written };
}

describe('json lines', () => {
  it('one object a line: level by name, ISO time, the message as msg, the fields as keys', () => {
    const { logger, written } = capturedLogger('json');
    logger.info('Decode OK in 12.5 ms', { kind: 'access', method: 'Decode', code: 'OK', durationMs: 12.5 });
    expect(written).toHaveLength(1);
    expect(written[0]!.endsWith('\n')).toBe(true);
    const line = JSON.parse(written[0]!);
    expect(line).toMatchObject({ level: 'info', msg: 'Decode OK in 12.5 ms', kind: 'access', method: 'Decode', code: 'OK', durationMs: 12.5 });
    expect(new Date(line.time).toISOString()).toBe(line.time);
    expect(line.pid).toBe(process.pid);
  });

  it('an error carries its cause with the stack and the cause chain', () => {
    const { logger, written } = capturedLogger('json');
    const cause = new Error('the model thread stopped', { cause: new TypeError('out of memory') });
    logger.error('Decode #3: unexpected error, answered INTERNAL', cause, { call: 'Decode #3' });
    const line = JSON.parse(written[0]!);
    expect(line).toMatchObject({ level: 'error', call: 'Decode #3' });
    expect(line.err.type).toBe('Error');
    expect(line.err.stack).toContain('the model thread stopped');
    expect(line.err.stack).toContain('caused by: TypeError: out of memory');
  });

  it('lines below the level are not written', () => {
    const { logger, written } = capturedLogger('json', 'warn');
    logger.debug('detail');
    logger.info('access');
    logger.warn('careful');
    expect(written.map((line) => JSON.parse(line).msg)).toEqual(['careful']);
  });
});

describe('pretty lines', () => {
  it('one readable line: time, level, message, then the fields', () => {
    const { logger, written } = capturedLogger('pretty');
    logger.info('Decode OK in 12.5 ms', { method: 'Decode', code: 'OK' });
    const text = written.join('');
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: Decode OK in 12\.5 ms \{"method":"Decode","code":"OK"\}\n$/);
  });
});

describe("grpc-js's own lines", () => {
  afterEach(() => setLogger(console));

  it('go through the logger at their severity, marked as grpc-js', () => {
    const logger = new MemoryLogger();
    routeGrpcLogs(logger, 'debug', {});
    experimental.log(logVerbosity.ERROR, 'Failed to connect to proxy', 'example:80');
    experimental.log(logVerbosity.INFO, 'WARNING Only 1 addresses added out of total 2 resolved');
    experimental.log(logVerbosity.DEBUG, 'a trace line');
    expect(logger.lines).toEqual([
      'ERROR grpc-js: Failed to connect to proxy example:80',
      'INFO grpc-js: WARNING Only 1 addresses added out of total 2 resolved',
      'DEBUG grpc-js: a trace line',
    ]);
    expect(logger.entries.every((entry) => entry.fields.source === 'grpc-js')).toBe(true);
  });

  it('follow the log level: at warn, only its errors', () => {
    const logger = new MemoryLogger();
    routeGrpcLogs(logger, 'warn', {});
    experimental.log(logVerbosity.INFO, 'not written');
    experimental.log(logVerbosity.ERROR, 'written');
    expect(logger.lines).toEqual(['ERROR grpc-js: written']);
  });
});

describe("Node's process warnings", () => {
  it('become warn lines, in place of the text Node would print', () => {
    const logger = new MemoryLogger();
    const emitter = new EventEmitter();
    let printed = false;
    emitter.on('warning', () => (printed = true));
    routeProcessWarnings(logger, emitter);
    const warning = new Error('the model thread failed a request: StateError: disposed');
    warning.name = 'Warning';
    emitter.emit('warning', warning);
    expect(printed).toBe(false);
    expect(logger.entries).toEqual([
      { level: 'warn', message: 'the model thread failed a request: StateError: disposed', fields: { source: 'node', warning: 'Warning' } },
    ]);
  });
});

describe('the caller on the access line', () => {
  it('is the name authentication put on the call, cut to 128 characters, else anonymous', () => {
    const metadata = new Metadata();
    expect(callerOf(metadata)).toBe(ANONYMOUS_CALLER);
    metadata.set('stepwise-caller', 'alice');
    expect(callerOf(metadata)).toBe('alice');
    metadata.set('stepwise-caller', 'x'.repeat(1_000));
    expect(callerOf(metadata)).toHaveLength(128);
  });
});

describe('stream report', () => {
  function recordingMetrics() {
    const calls: string[] = [];
    const metrics: StreamMetricsByModel = {
      forModel: (model): StreamMetrics => ({
        stepComputed: (seconds) => calls.push(`${model}: step ${seconds}`),
        firstStepSent: () => calls.push(`${model}: first`),
        tokenTaken: (forced) => calls.push(`${model}: token ${forced ? 'forced' : 'selected'}`),
        rewound: () => calls.push(`${model}: rewind`),
        encoderInput: (tokens) => calls.push(`${model}: input ${tokens}`),
      }),
    };
    return { metrics, calls };
  }

  it('reads model, input length, tokens, forced tokens, rewinds and finish reason off the stream', () => {
    const { metrics, calls } = recordingMetrics();
    const report = new StreamReport(metrics);
    report.sent({ $case: 'started', value: { modelName: 'm', inputIds: [4, 5, 1] } as never });
    report.stepComputed(2);
    report.sent({ $case: 'logits', value: { step: 0 } as never });
    report.sent({ $case: 'token', value: { step: 0, tokenId: 7, source: TokenSource.TOKEN_SOURCE_FORCED } as never });
    report.stepComputed(3);
    report.rewound(1);
    report.stepComputed(2);
    report.sent({ $case: 'token', value: { step: 0, tokenId: 8, source: TokenSource.TOKEN_SOURCE_SELECTED } as never });
    report.sent({ $case: 'finished', value: { reason: FinishReason.FINISH_REASON_EOS, tokenIds: [8] } as never });
    expect(report.fields()).toEqual({ model: 'm', inputTokens: 3, tokens: 1, steps: 3, forcedTokens: 1, rewinds: 1, finishReason: 'eos' });
    // Every metric goes to the series of the model the stream's Started names.
    expect(calls).toEqual(['m: input 3', 'm: step 0.002', 'm: first', 'm: token forced', 'm: step 0.003', 'm: rewind', 'm: step 0.002', 'm: token selected']);
  });

  it('is logged once, however many ways the call ends', () => {
    const report = new StreamReport(recordingMetrics().metrics);
    expect(report.close()).toBe(true);
    expect(report.close()).toBe(false);
  });
});
