/**
 * `crossdock keys create|list|revoke`: API keys for clients beyond the bootstrap admin key.
 *
 * The secret is printed once, at creation; the store keeps only its sha256 (as for the bootstrap
 * key). Creating and revoking are audited with the acting person. A running hub trusts a key
 * lookup for up to 30 s (its auth cache), so a revoked key stops working within that time.
 */
import type { Command } from 'commander';
import { type EventsCliDeps, io, withContext } from '../events/cli.js';
import { type ApiScope, apiScopes, createApiKey } from '../http/middleware/auth.js';
import type { ApiKeyRecord, Store } from '../ports/index.js';

/** The key commands take the same dependencies as the dlq and replay commands. */
export type KeysCliDeps = EventsCliDeps;

/** Parses `orders:read,ops:read` into known scopes, or names the unknown ones. */
export function parseScopes(list: string): { scopes: ApiScope[] } | { error: string } {
  const given = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (given.length === 0) return { error: `--scopes needs at least one of: ${apiScopes.join(', ')}` };
  const unknown = given.filter((s) => !(apiScopes as readonly string[]).includes(s));
  if (unknown.length > 0) {
    return { error: `unknown scope ${unknown.join(', ')}; known scopes: ${apiScopes.join(', ')}` };
  }
  return { scopes: [...new Set(given)] as ApiScope[] };
}

function describe(k: ApiKeyRecord): string {
  return [
    k.id,
    k.name,
    k.scopes.join(','),
    k.rateLimit > 0 ? `${k.rateLimit}/s` : 'default rate',
    k.createdAt,
    k.revokedAt ? `revoked ${k.revokedAt}` : 'active',
  ].join('\t');
}

/** Registers `keys` and its subcommands on `program`. */
export function registerKeyCommands(program: Command, deps: KeysCliDeps): void {
  const x = io(deps);
  const err = (line: string) => void x.err.write(`${line}\n`);
  const withStore = <T>(fn: (store: Store) => Promise<T>): Promise<T> =>
    withContext(deps, (ctx) => fn(ctx.store));

  const keys = program.command('keys').description('API keys: create (secret shown once), list, revoke');

  keys
    .command('create')
    .description('create an API key and print its secret (shown this once only)')
    .requiredOption('--name <name>', 'who or what uses the key, e.g. "salesforce-sync"')
    .requiredOption('--scopes <list>', `comma-separated: ${apiScopes.join(', ')}`)
    .option('--rate-limit <n>', 'requests per second for this client (0 = the server default)', '0')
    .option('--actor <who>', 'who is acting (audit log)')
    .option('--json', 'print one JSON object')
    .action(
      async (o: { name: string; scopes: string; rateLimit: string; actor?: string; json?: boolean }) => {
        const parsed = parseScopes(o.scopes);
        if ('error' in parsed) {
          err(`crossdock keys create: ${parsed.error}`);
          return x.fail(2);
        }
        const rateLimit = Number(o.rateLimit);
        if (!Number.isInteger(rateLimit) || rateLimit < 0) {
          err('crossdock keys create: --rate-limit must be a whole number >= 0');
          return x.fail(2);
        }
        const name = o.name.trim();
        if (name === '') {
          err('crossdock keys create: --name must not be empty');
          return x.fail(2);
        }
        await withStore(async (store) => {
          const active = (await store.listApiKeys()).filter((k) => k.revokedAt === null && k.name === name);
          if (active.length > 0) {
            err(
              `crossdock keys create: an active key named "${name}" exists (${active[0]!.id}); revoke it first`,
            );
            return x.fail(1);
          }
          const at = new Date();
          const { record, secret } = createApiKey({ name, scopes: parsed.scopes, rateLimit, now: at });
          await store.commit({
            apiKeys: [record],
            audit: [
              {
                actor: x.actor(o.actor),
                action: 'api_key.create',
                target: record.id,
                detail: { name, scopes: record.scopes, rateLimit },
                at: at.toISOString(),
              },
            ],
          });
          if (o.json)
            x.out(JSON.stringify({ id: record.id, name, scopes: record.scopes, rateLimit, secret }));
          else {
            x.out(secret);
            err(
              `created key ${record.id} "${name}" (${record.scopes.join(', ')}); the secret above is shown only now`,
            );
          }
        });
      },
    );

  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('--json', 'print one JSON array')
    .action(async (o: { json?: boolean }) => {
      await withStore(async (store) => {
        const all = await store.listApiKeys();
        if (o.json) x.out(JSON.stringify(all.map(({ secretHash: _hash, ...rest }) => rest)));
        else for (const k of all) x.out(describe(k));
      });
    });

  keys
    .command('revoke')
    .description('revoke an API key by id or by name (a running hub refuses it within 30 s)')
    .argument('<key>', 'key id or name')
    .option('--actor <who>', 'who is acting (audit log)')
    .action(async (which: string, o: { actor?: string }) => {
      await withStore(async (store) => {
        const all = await store.listApiKeys();
        const byId = all.find((k) => k.id === which);
        const matches = byId ? [byId] : all.filter((k) => k.name === which && k.revokedAt === null);
        if (matches.length !== 1) {
          err(
            matches.length === 0
              ? `crossdock keys revoke: no active key with id or name "${which}"`
              : `crossdock keys revoke: ${matches.length} active keys are named "${which}"; give the id`,
          );
          return x.fail(1);
        }
        const key = matches[0]!;
        if (key.revokedAt !== null) {
          x.out(`${key.id}\talready revoked ${key.revokedAt}`);
          return;
        }
        const at = new Date().toISOString();
        await store.commit({
          apiKeys: [{ ...key, revokedAt: at }],
          audit: [
            {
              actor: x.actor(o.actor),
              action: 'api_key.revoke',
              target: key.id,
              detail: { name: key.name },
              at,
            },
          ],
        });
        x.out(`${key.id}\trevoked`);
      });
    });
}
