import { describe, expect, it } from 'vitest';
import { LOCAL_ADMIN } from '../access/permissions.js';
import { ApiError } from '../api/errors.js';
import { Dispatcher, type Handlers } from './dispatcher.js';

describe('Dispatcher', () => {
  // Every handler answers; a name that reaches one was taken for an operation.
  const handlers = new Proxy({}, { get: () => async () => 'ran' }) as Handlers;
  const dispatcher = new Dispatcher(handlers);

  it.each(['toString', '__proto__', 'constructor', 'hasOwnProperty', 'valueOf'])(
    'knows no operation called %s',
    async (name) => {
      const outcome = await dispatcher.invoke(LOCAL_ADMIN, name as 'health', {}).catch((error: unknown) => error);
      expect(outcome).toBeInstanceOf(ApiError);
      expect((outcome as ApiError).code).toBe('not_found');
    },
  );

  it('runs a real one', async () => {
    expect(await dispatcher.invoke(null, 'health', {})).toBe('ran');
  });
});
