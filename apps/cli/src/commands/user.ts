import { Argument, Option } from 'commander';
import { formatJson } from '../format';
import { readPassword } from '../password-input';
import { formatUser, formatUsers, roleOfName, ROLE_NAMES, type RoleName } from '../user-format';
import { defineCommand, defineGroup } from './command';
import { nonEmptyParser } from './option-parsers';
import { optionValue } from './option-values';

const passwordFileOption = (): Option =>
  new Option('--password-file <FILE>', 'read the password from the first line of FILE (else it is asked for, not shown, or read from stdin)').argParser(
    nonEmptyParser('a file, e.g. --password-file ann.password'),
  );

const roleArgument = (): Argument => new Argument('ROLE', 'viewer (reads everything but secrets), operator (also drains, invokes, runs schedules) or admin').choices(ROLE_NAMES);

export interface UserCreateArgs {
  readonly username: string;
  readonly role: RoleName;
  readonly passwordFile: string | undefined;
}

export const userCreateCommand = defineCommand<UserCreateArgs>({
  name: 'create',
  summary: 'Create a user with a role (viewer by default) and a password, asked for or read from --password-file',
  arguments: [new Argument('USERNAME', 'letters, digits, ".", "_", "@" and "-"')],
  options: [new Option('--role <ROLE>', 'viewer, operator or admin (default viewer)').choices(ROLE_NAMES), passwordFileOption()],
  parse: ([username = ''], options) => ({
    username,
    role: (optionValue.string(options, 'role') ?? 'viewer') as RoleName,
    passwordFile: optionValue.string(options, 'passwordFile'),
  }),
  async run(args, context) {
    const password = await readPassword(args.passwordFile, context, `password for '${args.username}' (not shown): `);
    const user = await context.api.createUser({ username: args.username, password, role: roleOfName(args.role) });
    context.out(context.json ? formatJson(user) : formatUser(user, 'created'));
    return 0;
  },
});

export const userListCommand = defineCommand<Record<string, never>>({
  name: 'list',
  summary: 'List the users and their roles',
  arguments: [],
  options: [],
  parse: () => ({}),
  async run(_args, context) {
    const { users } = await context.api.listUsers();
    context.out(context.json ? formatJson({ users }) : formatUsers(users));
    return 0;
  },
});

export const userDeleteCommand = defineCommand<{ readonly username: string }>({
  name: 'delete',
  summary: "Delete a user and its tokens (not the last admin user)",
  arguments: [new Argument('USERNAME', 'the user')],
  options: [],
  parse: ([username = '']) => ({ username }),
  async run(args, context) {
    await context.api.deleteUser(args.username);
    context.out(context.json ? formatJson({ deleted: args.username }) : `deleted user '${args.username}' and its tokens`);
    return 0;
  },
});

export interface UserSetPasswordArgs {
  /** '': the caller's own. */
  readonly username: string;
  readonly passwordFile: string | undefined;
}

export const userSetPasswordCommand = defineCommand<UserSetPasswordArgs>({
  name: 'set-password',
  summary: "Change a user's password (without USERNAME, your own), asked for or read from --password-file",
  arguments: [new Argument('[USERNAME]', 'the user (an admin may name anyone); default: the user of LANEWAY_TOKEN')],
  options: [passwordFileOption()],
  parse: ([username = ''], options) => ({ username, passwordFile: optionValue.string(options, 'passwordFile') }),
  async run(args, context) {
    const password = await readPassword(args.passwordFile, context, `new password${args.username ? ` for '${args.username}'` : ''} (not shown): `);
    await context.api.setPassword(args.username, password);
    context.out(context.json ? formatJson({ username: args.username }) : `changed the password${args.username ? ` of '${args.username}'` : ''}`);
    return 0;
  },
});

export const userSetRoleCommand = defineCommand<{ readonly username: string; readonly role: RoleName }>({
  name: 'set-role',
  summary: "Change a user's role (its tokens act with the new one at once)",
  arguments: [new Argument('USERNAME', 'the user'), roleArgument()],
  options: [],
  parse: ([username = '', role = '']) => ({ username, role: role as RoleName }),
  async run(args, context) {
    const user = await context.api.setRole(args.username, roleOfName(args.role));
    context.out(context.json ? formatJson(user) : formatUser(user, 'updated'));
    return 0;
  },
});

/** `laneway user create|list|delete|set-password|set-role`. */
export const userGroup = defineGroup({
  name: 'user',
  summary: 'Manage users and their roles: create, list, delete, set-password, set-role',
  commands: [userCreateCommand, userListCommand, userDeleteCommand, userSetPasswordCommand, userSetRoleCommand],
});
