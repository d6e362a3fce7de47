import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, test } from 'vitest';
import { loggerOptions, logLevelFrom } from './logging.js';

function capture(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, stream };
}

describe('loggerOptions', () => {
  test('The level comes from CROSSDOCK_LOG_LEVEL, then LOG_LEVEL, and falls back to info.', () => {
    expect(logLevelFrom({ env: { CROSSDOCK_LOG_LEVEL: 'debug', LOG_LEVEL: 'warn' } })).toBe('debug');
    expect(logLevelFrom({ env: { LOG_LEVEL: 'warn' } })).toBe('warn');
    expect(logLevelFrom({ env: { LOG_LEVEL: 'loud' } })).toBe('info');
    expect(logLevelFrom({ env: {}, level: 'error' })).toBe('error');
  });

  test('Authorization headers, cookies, secrets and passwords are redacted from JSON lines.', () => {
    const { lines, stream } = capture();
    const log = pino(loggerOptions({ level: 'info' }), stream);
    log.info(
      {
        req: { headers: { authorization: 'Bearer cdk_x_supersecret', cookie: 'sid=cookie-value' } },
        config: { erp: { password: 'erp-password' }, secret: 'hmac-secret' },
        password: 'top-password',
      },
      'configured',
    );
    const line = JSON.parse(lines[0] ?? '{}');
    expect(line.msg).toBe('configured');
    expect(line.service).toBe('crossdock');
    const text = lines.join('');
    for (const secret of ['supersecret', 'cookie-value', 'erp-password', 'hmac-secret', 'top-password']) {
      expect(text).not.toContain(secret);
    }
  });

  test('Extra redaction paths can be added for connector credentials.', () => {
    const { lines, stream } = capture();
    pino(loggerOptions({ level: 'info', redact: ['tryton.apiToken'] }), stream).info({
      tryton: { apiToken: 'tt-1' },
    });
    expect(lines.join('')).not.toContain('tt-1');
  });
});
