import { Writable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, LogController } from 'fastify';
import { pino } from 'pino';
import { afterEach, describe, expect, test } from 'vitest';
import { problemErrorHandler, problemNotFoundHandler } from '../problem.js';
import { createTraceContext, parseTraceparent, traceContext, traceGenReqId } from './trace.js';

const incoming = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
const traceparentShape = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

let app: FastifyInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

function build(logs?: Writable): FastifyInstance {
  const instance = Fastify({
    genReqId: traceGenReqId(),
    logController: new LogController({ requestIdLogLabel: 'correlationId' }),
    ...(logs ? { loggerInstance: pino({ level: 'info' }, logs) as FastifyBaseLogger } : {}),
  });
  instance.addHook('onRequest', traceContext());
  instance.setErrorHandler(problemErrorHandler());
  instance.setNotFoundHandler(problemNotFoundHandler());
  instance.get('/echo', async (request) => ({ id: request.id, trace: request.trace }));
  instance.get('/boom', async () => {
    throw new Error('kaput');
  });
  return instance;
}

describe('parseTraceparent', () => {
  test('A well-formed version 00 header is parsed into its parts.', () => {
    expect(parseTraceparent(incoming)).toEqual({
      version: '00',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      parentId: '00f067aa0ba902b7',
      flags: '01',
    });
  });

  test('Invalid headers are rejected: bad version, length, case, all-zero ids.', () => {
    const invalid = [
      undefined,
      '',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
    ];
    for (const header of invalid) expect(parseTraceparent(header), String(header)).toBeNull();
  });

  test('A future version with extra fields is accepted, per the forward-compatibility rule.', () => {
    expect(
      parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever')?.traceId,
    ).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  test('Started traces get fresh random ids and the sampled flag.', () => {
    const a = createTraceContext(undefined);
    const b = createTraceContext(undefined);
    expect(a.traceparent).toMatch(traceparentShape);
    expect(a.flags).toBe('01');
    expect(a.traceId).not.toBe(b.traceId);
    expect(a.spanId).not.toBe(b.spanId);
  });
});

describe('traceContext', () => {
  test('A valid incoming traceparent is continued with the same trace id and a new span id.', async () => {
    app = build();
    const res = await app.inject({ method: 'GET', url: '/echo', headers: { traceparent: incoming } });
    const header = String(res.headers.traceparent);
    expect(header).toMatch(traceparentShape);
    expect(header.slice(3, 35)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(header.slice(36, 52)).not.toBe('00f067aa0ba902b7');
    const body = res.json();
    expect(body.trace.parentSpanId).toBe('00f067aa0ba902b7');
    expect(body.trace.traceparent).toBe(header);
    expect(body.id).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  test('Without a traceparent a new trace is started and returned.', async () => {
    app = build();
    const res = await app.inject({ method: 'GET', url: '/echo' });
    const header = String(res.headers.traceparent);
    expect(header).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(res.json().trace.parentSpanId).toBeNull();
  });

  test('An invalid traceparent starts a new trace instead of continuing it.', async () => {
    app = build();
    const res = await app.inject({
      method: 'GET',
      url: '/echo',
      headers: { traceparent: '00-00000000000000000000000000000000-00f067aa0ba902b7-01' },
    });
    expect(String(res.headers.traceparent).slice(3, 35)).not.toBe('00000000000000000000000000000000');
    expect(res.json().trace.parentSpanId).toBeNull();
  });

  test('Error and not-found responses carry the traceparent, and the problem names the trace id.', async () => {
    app = build();
    for (const url of ['/boom', '/nowhere']) {
      const res = await app.inject({ method: 'GET', url, headers: { traceparent: incoming } });
      expect(res.statusCode).toBeGreaterThanOrEqual(404);
      expect(String(res.headers.traceparent).slice(3, 35)).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(res.json().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    }
  });

  test('The trace id is the correlation id on every log line of the request.', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    app = build(stream);
    await app.inject({ method: 'GET', url: '/echo', headers: { traceparent: incoming } });
    const requestLines = lines
      .map((l) => JSON.parse(l))
      .filter((l) => l.req !== undefined || l.res !== undefined);
    expect(requestLines.length).toBeGreaterThanOrEqual(2);
    for (const line of requestLines) expect(line.correlationId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  test('Without traceGenReqId the hook still binds the correlation id to the request logger.', async () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    app = Fastify({ loggerInstance: pino({ level: 'info' }, stream) as FastifyBaseLogger });
    app.addHook('onRequest', traceContext());
    app.get('/log', async (request) => {
      request.log.info('inside');
      return {};
    });
    await app.inject({ method: 'GET', url: '/log', headers: { traceparent: incoming } });
    const inside = lines.map((l) => JSON.parse(l)).find((l) => l.msg === 'inside');
    expect(inside?.correlationId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });
});
