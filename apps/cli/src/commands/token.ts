import { Argument, Option } from 'commander';
import { formatJson } from '../format';
import { formatTokens } from '../user-format';
import { defineCommand, defineGroup } from './command';
import { durationParser, nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

const userOption = (what: string): Option => new Option('--user <USERNAME>', what).argParser(nonEmptyParser('a username, e.g. --user ann'));

export interface TokenCreateArgs {
  readonly name: string;
  /** '': the user of LANEWAY_TOKEN. */
  readonly user: string;
  /** Seconds; 0: never expires. */
  readonly ttlSeconds: number;
}

/** The longest --expires-in the control plane takes: ten years. */
const MAX_TTL_MS = 10 * 365 * 24 * 3600 * 1000;

export const tokenCreateCommand = defineCommand<TokenCreateArgs>({
  name: 'create',
  summary: 'Create an API token and print it, once (use it as LANEWAY_TOKEN); only its hash is kept',
  arguments: [new Argument('NAME', 'what will use it, e.g. ci')],
  options: [
    userOption('the token\'s owner (an admin may name anyone); default: the user of LANEWAY_TOKEN (with the admin token, required)'),
    new Option('--expires-in <DURATION>', 'the token stops working after this long, e.g. 30d as 720h (default: never)').argParser(
      durationParser('--expires-in', '720h', 1000),
    ),
  ],
  parse: ([name = ''], options) => {
    const ms = optionValue.number(options, 'expiresIn');
    return { name, user: optionValue.string(options, 'user') ?? '', ttlSeconds: ms === undefined ? 0 : Math.ceil(Math.min(ms, MAX_TTL_MS) / 1000) };
  },
  async run(args, context) {
    const created = await context.api.createToken({ username: args.user, name: args.name, ttlSeconds: args.ttlSeconds });
    if (context.json) {
      context.out(formatJson(created));
      return 0;
    }
    // Just the token on stdout, so `laneway token create ci > ci.token` works.
    context.out(created.token);
    const info = created.info;
    context.err(
      `token '${info?.id ?? ''}' of user '${info?.username ?? ''}'${info?.expiresAt ? `, expires ${info.expiresAt}` : ''}: shown once, keep it safe; revoke it with 'laneway token revoke ${info?.id ?? 'ID'}'`,
    );
    return 0;
  },
});

export const tokenListCommand = defineCommand<{ readonly user: string }>({
  name: 'list',
  summary: "List API tokens (ids, names, owners, times; never the tokens): yours, --user's, or with the admin token everyone's",
  arguments: [],
  options: [userOption("only this user's tokens")],
  parse: (_positionals, options) => ({ user: optionValue.string(options, 'user') ?? '' }),
  async run(args, context) {
    const { tokens } = await context.api.listTokens(args.user);
    context.out(context.json ? formatJson({ tokens }) : formatTokens(tokens, Date.now()));
    return 0;
  },
});

export const tokenRevokeCommand = defineCommand<{ readonly id: string }>({
  name: 'revoke',
  summary: 'Revoke an API token: it stops working at once',
  arguments: [new Argument('ID', 'the id token list shows')],
  options: [],
  parse: ([id = '']) => ({ id }),
  async run(args, context) {
    await context.api.revokeToken(args.id);
    context.out(context.json ? formatJson({ revoked: args.id }) : `revoked token '${args.id}'`);
    return 0;
  },
});

/** `laneway token create|list|revoke`. */
export const tokenGroup = defineGroup({
  name: 'token',
  summary: 'Manage API tokens: create (shown once), list, revoke',
  commands: [tokenCreateCommand, tokenListCommand, tokenRevokeCommand],
});
