/**
 * `crossdock keys create|list|revoke`: API keys for clients beyond the bootstrap admin key.
 *
 * The secret is printed once, at creation; the store keeps only its sha256 (as for the bootstrap
 * key). Creating and revoking are audited with the acting person. A running hub trusts a key
 * lookup for up to 30 s (its auth cache), so a revoked key stops working within that time.
 *
 * Every command has a deadline (`--timeout`, default 60 s) and cannot run past it. Why: `keys
 * create` was once seen waiting 10 minutes against a running hub. On SQLite every wait is bounded
 * already (a lock held past the 5 s busy timeout fails the statement: measured 7 s to "store busy"
 * with the write lock held by another process), but on PostgreSQL nothing is: opening the store
 * takes the migration advisory lock with `pg_advisory_lock`, which waits as long as another
 * process holds it (a hub or `crossdock migrate` applying migrations), and the key's commit waits
 * as long as another transaction holds a lock on `api_keys` or `audit_log` (both reproduced: the
 * command still waiting when killed after 25 s). Past the deadline the command says what it was
 * waiting for, and that the key may exist if the wait was its commit, and ends the process: a
 * query stuck on a lock keeps its connection, and so the process, alive.
 */
import type { Command } from 'commander';
import { type EventsCliDeps, io, withContext } from '../events/cli.js';
import { type ApiScope, apiScopes, createApiKey, customerScopes } from '../http/middleware/auth.js';
import type { ApiKeyRecord, Store } from '../ports/index.js';

/** The key commands take the dependencies of the dlq and replay commands, and a deadline. */
export interface KeysCliDeps extends EventsCliDeps {
  /** How long one keys command may take in all, ms; `--timeout <seconds>` overrides. Default 60 s. */
  timeoutMs?: number;
  /** Ends the process once a command has given up (default `process.exit`). */
  exit?: (code: number) => void;
}

/** Default deadline of a keys command. */
export const defaultKeysTimeoutMs = 60_000;

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
    ...(k.customerId ? [`customer ${k.customerId}`] : []),
  ].join('\t');
}

/** Output of a keys command, silenced once it has given up. */
interface Say {
  out: (line: string) => void;
  err: (line: string) => void;
}

/** Where a keys command is, for the message when it gives up. */
type Phase = 'opening' | 'reading' | 'writing' | 'closing';

const waitingFor: Record<Phase, string> = {
  opening: 'opening the store (connecting and applying pending migrations)',
  reading: 'reading the API keys',
  writing: 'committing the change',
  closing: 'closing the store',
};

/** Registers `keys` and its subcommands on `program`. */
export function registerKeyCommands(program: Command, deps: KeysCliDeps): void {
  const x = io(deps);
  const exit = deps.exit ?? ((code: number) => process.exit(code));

  /**
   * Runs `fn` against the store within the deadline. Past it: says what it was waiting for, fails
   * with exit code 1 and ends the process; output the command would still make is dropped.
   */
  async function withStore(
    command: string,
    timeout: string | undefined,
    fn: (store: Store, at: (phase: Phase) => void, say: Say) => Promise<void>,
    onTimeout: (phase: Phase) => string = () => '',
  ): Promise<void> {
    const ms = timeout === undefined ? (deps.timeoutMs ?? defaultKeysTimeoutMs) : Number(timeout) * 1000;
    if (!(Number.isFinite(ms) && ms > 0)) {
      x.err.write(`crossdock keys ${command}: --timeout must be a number of seconds > 0\n`);
      x.fail(2);
      return;
    }
    let phase: Phase = 'opening';
    let gaveUp = false;
    const say: Say = {
      out: (line) => {
        if (!gaveUp) x.out(line);
      },
      err: (line) => {
        if (!gaveUp) x.err.write(`${line}\n`);
      },
    };
    const work = withContext(deps, async (ctx) => {
      phase = 'reading';
      await fn(
        ctx.store,
        (p) => {
          phase = p;
        },
        say,
      );
      phase = 'closing';
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), ms);
    });
    try {
      if ((await Promise.race([work, deadline])) !== 'timeout') return;
    } finally {
      clearTimeout(timer);
    }
    gaveUp = true;
    // Whatever the store does later is no answer to this command any more.
    work.catch(() => undefined);
    const seconds = Math.round(ms / 100) / 10;
    x.err.write(
      `crossdock keys ${command}: gave up after ${seconds} s waiting for the store while ${waitingFor[phase]}. ` +
        'Another process holds a lock it needs: on PostgreSQL a migration in progress (advisory lock) or a ' +
        'long transaction (see pg_stat_activity); on SQLite a write lock held longer than the busy timeout. ' +
        `${onTimeout(phase)}\n`,
    );
    x.fail(1);
    exit(1);
  }

  const err = (line: string) => void x.err.write(`${line}\n`);
  const timeoutOption = '--timeout <seconds>';
  const timeoutHelp = `give up after this many seconds (default ${defaultKeysTimeoutMs / 1000})`;

  const keys = program.command('keys').description('API keys: create (secret shown once), list, revoke');

  keys
    .command('create')
    .description('create an API key and print its secret (shown this once only)')
    .requiredOption('--name <name>', 'who or what uses the key, e.g. "salesforce-sync"')
    .requiredOption('--scopes <list>', `comma-separated: ${apiScopes.join(', ')}`)
    .option('--rate-limit <n>', 'requests per second for this client (0 = the server default)', '0')
    .option(
      '--customer <id>',
      `bind the key to one customer (hub id or CRM account id): a customer portal's key, scopes ${customerScopes.join(', ')} only`,
    )
    .option('--actor <who>', 'who is acting (audit log)')
    .option('--json', 'print one JSON object')
    .option(timeoutOption, timeoutHelp)
    .action(
      async (o: {
        name: string;
        scopes: string;
        rateLimit: string;
        customer?: string;
        actor?: string;
        json?: boolean;
        timeout?: string;
      }) => {
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
        const customerRef = o.customer?.trim();
        if (o.customer !== undefined && !customerRef) {
          err('crossdock keys create: --customer must name a customer (hub id or CRM account id)');
          return x.fail(2);
        }
        if (customerRef) {
          const other = parsed.scopes.filter((s) => !customerScopes.includes(s));
          if (other.length > 0) {
            err(
              `crossdock keys create: a key bound to a customer (--customer) may hold only ${customerScopes.join(', ')}, not ${other.join(', ')}`,
            );
            return x.fail(2);
          }
        } else if (parsed.scopes.some((s) => customerScopes.includes(s))) {
          err(
            `crossdock keys create: ${customerScopes.join(', ')} needs --customer <id>: a portal key answers for one customer`,
          );
          return x.fail(2);
        }
        await withStore(
          'create',
          o.timeout,
          async (store, at, say) => {
            const active = (await store.listApiKeys()).filter((k) => k.revokedAt === null && k.name === name);
            if (active.length > 0) {
              say.err(
                `crossdock keys create: an active key named "${name}" exists (${active[0]!.id}); revoke it first`,
              );
              return x.fail(1);
            }
            let customerId: string | undefined;
            if (customerRef) {
              const customer =
                (await store.getCustomer(customerRef)) ??
                (await store.findCustomerByExternalId('crm', customerRef));
              if (customer === null) {
                say.err(
                  `crossdock keys create: --customer ${customerRef}: no such customer in the hub (give its hub id or CRM account id)`,
                );
                return x.fail(2);
              }
              customerId = customer.id;
            }
            const now = new Date();
            const { record, secret } = createApiKey({
              name,
              scopes: parsed.scopes,
              rateLimit,
              now,
              ...(customerId ? { customerId } : {}),
            });
            at('writing');
            await store.commit({
              apiKeys: [record],
              audit: [
                {
                  actor: x.actor(o.actor),
                  action: 'api_key.create',
                  target: record.id,
                  detail: { name, scopes: record.scopes, rateLimit, ...(customerId ? { customerId } : {}) },
                  at: now.toISOString(),
                },
              ],
            });
            if (o.json)
              say.out(
                JSON.stringify({
                  id: record.id,
                  name,
                  scopes: record.scopes,
                  rateLimit,
                  ...(customerId ? { customerId } : {}),
                  secret,
                }),
              );
            else {
              say.out(secret);
              say.err(
                `created key ${record.id} "${name}" (${record.scopes.join(', ')}${customerId ? `; customer ${customerId}` : ''}); the secret above is shown only now`,
              );
            }
          },
          (phase) =>
            phase === 'writing' || phase === 'closing'
              ? `The key may have been created without its secret being shown: look for "${name}" in \`crossdock keys list\` and revoke it.`
              : 'Nothing was written.',
        );
      },
    );

  keys
    .command('list')
    .description('list API keys (never their secrets)')
    .option('--json', 'print one JSON array')
    .option(timeoutOption, timeoutHelp)
    .action(async (o: { json?: boolean; timeout?: string }) => {
      await withStore('list', o.timeout, async (store, _at, say) => {
        const all = await store.listApiKeys();
        if (o.json) say.out(JSON.stringify(all.map(({ secretHash: _hash, ...rest }) => rest)));
        else for (const k of all) say.out(describe(k));
      });
    });

  keys
    .command('revoke')
    .description('revoke an API key by id or by name (a running hub refuses it within 30 s)')
    .argument('<key>', 'key id or name')
    .option('--actor <who>', 'who is acting (audit log)')
    .option(timeoutOption, timeoutHelp)
    .action(async (which: string, o: { actor?: string; timeout?: string }) => {
      await withStore(
        'revoke',
        o.timeout,
        async (store, at, say) => {
          const all = await store.listApiKeys();
          const byId = all.find((k) => k.id === which);
          const matches = byId ? [byId] : all.filter((k) => k.name === which && k.revokedAt === null);
          if (matches.length !== 1) {
            say.err(
              matches.length === 0
                ? `crossdock keys revoke: no active key with id or name "${which}"`
                : `crossdock keys revoke: ${matches.length} active keys are named "${which}"; give the id`,
            );
            return x.fail(1);
          }
          const key = matches[0]!;
          if (key.revokedAt !== null) {
            say.out(`${key.id}\talready revoked ${key.revokedAt}`);
            return;
          }
          const now = new Date().toISOString();
          at('writing');
          await store.commit({
            apiKeys: [{ ...key, revokedAt: now }],
            audit: [
              {
                actor: x.actor(o.actor),
                action: 'api_key.revoke',
                target: key.id,
                detail: { name: key.name },
                at: now,
              },
            ],
          });
          say.out(`${key.id}\trevoked`);
        },
        (phase) =>
          phase === 'writing' || phase === 'closing'
            ? `The key may be revoked already: check \`crossdock keys list\`, and run revoke again if not.`
            : 'Nothing was written.',
      );
    });
}
