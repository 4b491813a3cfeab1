import { createHash } from 'node:crypto';

/**
 * The Lua scripts of `RedisTokenStore`: each a check and a write that must happen as one step on the Redis node
 * that holds the key (compare-and-delete, count-and-expire, spend-a-window), run by SHA with `EVALSHA`.
 */

/** A Lua script and the SHA-1 that `EVALSHA` runs it by. */
export interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function luaScript(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

export const DELETE_IF_PREFIX = luaScript(`local value = redis.call('GET', KEYS[1])
if value and string.sub(value, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export const DELETE_IF_EQUAL =
  luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`);

export const PEXPIRE_IF_EQUAL =
  luaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`);

export const COUNT_IN_WINDOW = luaScript(`local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return count`);

export const THROTTLE_STATE = luaScript(
  `return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2]) }`,
);

/** Counts one in a window the first count opens: `{ count, ms left }`. */
export const COUNT_AND_WINDOW = luaScript(`local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return { count, redis.call('PTTL', KEYS[1]) }`);

/** Spends the re-grant of an open window: `{}` when none is open, else `{ re-grants left (negative: none), ms left }`. */
export const SPEND_REAUTH_WINDOW = luaScript(`if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
return { redis.call('DECR', KEYS[1]), redis.call('PTTL', KEYS[1]) }`);

/** Gives an open window its re-grant back, keeping its end. */
export const REFUND_REAUTH_WINDOW = luaScript(`local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('SET', KEYS[1], '1', 'PX', ttl) end
return ttl`);
