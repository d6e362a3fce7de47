/**
 * API keys and the audit log: who may call the hub, and what operators did.
 */
import type { ApiKeyRecord, AuditInput } from '../../ports/index.js';
import { all, get, num, parseJson, type Row, run, type Txn, textOrNull } from './sql.js';

function apiKeyFromRow(r: Row): ApiKeyRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    secretHash: String(r.secret_hash),
    scopes: parseJson<string[]>(r.scopes),
    rateLimit: num(r.rate_limit),
    createdAt: String(r.created_at),
    revokedAt: textOrNull(r.revoked_at),
    ...(textOrNull(r.customer_id) !== null ? { customerId: String(r.customer_id) } : {}),
  };
}

const apiKeyColumns = 'id, name, secret_hash, scopes, rate_limit, created_at, revoked_at, customer_id';

/** Creates or replaces an API key record (rotation, revocation). */
export function* putApiKey(k: ApiKeyRecord): Txn<void> {
  yield* run(
    `INSERT INTO api_keys (${apiKeyColumns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, secret_hash = excluded.secret_hash, scopes = excluded.scopes, rate_limit = excluded.rate_limit, created_at = excluded.created_at, revoked_at = excluded.revoked_at, customer_id = excluded.customer_id`,
    [
      k.id,
      k.name,
      k.secretHash,
      JSON.stringify(k.scopes),
      k.rateLimit,
      k.createdAt,
      k.revokedAt,
      k.customerId ?? null,
    ],
  );
}

/** The key whose secret hashes to this value (revoked keys included; the caller checks). */
export function* findApiKeyByHash(secretHash: string): Txn<ApiKeyRecord | null> {
  const r = yield* get(`SELECT ${apiKeyColumns} FROM api_keys WHERE secret_hash = ?`, [secretHash]);
  return r ? apiKeyFromRow(r) : null;
}

/** All keys, oldest first. */
export function* listApiKeys(): Txn<ApiKeyRecord[]> {
  const rows = yield* all(`SELECT ${apiKeyColumns} FROM api_keys ORDER BY created_at, id`);
  return rows.map(apiKeyFromRow);
}

/** How many keys exist (first start: bootstrap an admin key when zero). */
export function* countApiKeys(): Txn<number> {
  const r = yield* get('SELECT COUNT(*) AS n FROM api_keys');
  return num(r?.n ?? 0);
}

/** Latest audit rows first. */
export function* listAudit(limit: number): Txn<(AuditInput & { id: number })[]> {
  const rows = yield* all(
    'SELECT id, actor, action, target, detail, at FROM audit_log ORDER BY id DESC LIMIT ?',
    [Math.max(1, limit)],
  );
  return rows.map((r) => ({
    id: num(r.id),
    actor: String(r.actor),
    action: String(r.action),
    target: String(r.target),
    detail: parseJson<Record<string, unknown>>(r.detail),
    at: String(r.at),
  }));
}
