import type { Role } from './principal.ts';

/**
 * A user as the configuration describes them: who they are, what they see (a scope node, or the grids they work
 * in), and how they first prove it (an API token or its digest, an initial password or its hash).
 */
export interface UserDescription {
  readonly id: string;
  readonly name: string;
  readonly role: Role;
  /** For duty officers, integrators and admins: the node they see, with all below. */
  readonly scope?: string;
  /** For grid workers and grid chiefs: the grids they work in. */
  readonly grids?: string[];
  readonly token?: string;
  /** SHA-256 (hex) of the API token. */
  readonly tokenDigest?: string;
  /** scrypt$N$r$p$salt$key: the password the account is created with. */
  readonly passwordHash?: string;
  /** The password the account is created with, hashed at first start. */
  readonly initialPassword?: string;
  /** How notifications reach them off the hub's pages (personal data). */
  readonly contact?: UserContact;
}

/**
 * How a user is reached outside the hub's pages, by notification channels. Personal identifiers: never logged,
 * never pushed to consoles, masked in audit entries.
 */
export interface UserContact {
  /** E.164 or a Chinese mobile number, e.g. +8613800138000 or 13800138000. */
  readonly phone?: string;
  /** The user's id in WeCom (企业微信 UserID), for application messages. */
  readonly wecomUserId?: string;
  /** The user's id in DingTalk, for @mentions by robots (their phone is used when absent). */
  readonly dingtalkUserId?: string;
}

/**
 * The people the hub knows now: the config's users and the accounts made through the API, enabled ones only, kept
 * current as accounts change (on this instance at once, on siblings sharing the store when they next read them).
 * The one list routing, dispatch, notifications, patrols and the assessment read; read it at each use, never copy it.
 */
export interface People {
  all(): readonly UserDescription[];
  get(id: string): UserDescription | undefined;
}

/** A fixed list of people: for tools and tests that have no accounts. */
export function fixedPeople(users: readonly UserDescription[]): People {
  const byId = new Map(users.map((user) => [user.id, user]));
  return { all: () => users, get: (id) => byId.get(id) };
}
