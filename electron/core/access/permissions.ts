/**
 * Roles and what they may do (API.md "Roles"). Every door asks `allows` through the core's API
 * dispatcher, so HTTP and IPC are covered by the same check.
 */
import type { Permission } from '../api/contract.js';
import type { Role } from '../api/schemas.js';

const GRANTS: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(['read', 'reserve', 'org_setting.modify', 'admin']),
  manager: new Set(['read', 'reserve', 'org_setting.modify']),
  viewer: new Set(['read', 'reserve']),
};

export function allows(role: Role, permission: Permission): boolean {
  return GRANTS[role].has(permission);
}

/** Who is calling: a token's role, or the desktop window acting as the local admin. */
export interface Caller {
  role: Role;
  /** The token's id, when the caller used a stored token. */
  tokenId?: string;
}

export const LOCAL_ADMIN: Caller = { role: 'admin' };
