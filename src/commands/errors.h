/* SPDX-License-Identifier: Apache-2.0
 *
 * errors: the exact texts of error replies, in one place, worded as Redis (or Kvrocks for its own
 * commands) words them. These are the messages after the prefix: the dispatcher adds "ERR " or
 * the code's prefix (WRONGTYPE, MOVED, ...). Arity errors come only from the dispatcher.
 */
#ifndef KV_COMMANDS_ERRORS_H
#define KV_COMMANDS_ERRORS_H

#define ERR_SYNTAX "syntax error"
#define ERR_NOT_INTEGER "value is not an integer or out of range"
#define ERR_NOT_FLOAT "value is not a valid float"
#define ERR_OVERFLOW "increment or decrement would overflow"
#define ERR_NAN_OR_INF "increment would produce NaN or Infinity"
#define ERR_NO_SUCH_KEY "no such key"
#define ERR_INVALID_EXPIRE "invalid expire time in '%s' command"
#define ERR_TIMEOUT_NOT_FLOAT "timeout is not a float or out of range"
#define ERR_TIMEOUT_NEGATIVE "timeout is negative"
#define ERR_STRING_TOO_LONG "string exceeds maximum allowed size (proto-max-bulk-len)"
#define ERR_OFFSET_RANGE "offset is out of range"
#define ERR_BIT_OFFSET "bit offset is not an integer or out of range"
#define ERR_INVALID_CURSOR "invalid cursor"
#define ERR_NO_PASSWORD "Client sent AUTH, but no password is set"
#define ERR_INVALID_PASSWORD "Invalid password"
#define ERR_ADMIN_REQUIRED "admin permission required to perform the command"
#define ERR_MAX_CLIENTS "max number of clients reached"
#define ERR_DB_INDEX "DB index is out of range"
#define ERR_SELECT_INVALID "invalid DB index"
#define ERR_NX_XX "XX and NX options at the same time are not compatible"
#define ERR_GT_LT_NX "GT, LT, and/or NX options at the same time are not compatible"
#define ERR_SAME_OBJECT "source and destination objects are the same"
#define ERR_NOT_IN_MULTI "Command not allowed inside a transaction"
/* printf format: the command's full name ("get", "pubsub|numpat"). */
#define ERR_PUBSUB_CONTEXT                                                                         \
    "Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "        \
    "allowed in this context"

/* Hash and set commands. */
#define ERR_HASH_NOT_INTEGER "hash value is not an integer"
#define ERR_HASH_NOT_FLOAT "hash value is not a float"
#define ERR_VALUE_NAN_OR_INF "value is NaN or Infinity"
#define ERR_OUT_OF_RANGE "value is out of range"
#define ERR_OUT_OF_RANGE_POSITIVE "value is out of range, must be positive"
/* printf format (two int64_t): Redis 7.0's getRangeLongFromObjectOrReply, wording included. */
#define ERR_RANGE_BETWEEN "value is out of range, value must between %" PRId64 " and %" PRId64
#define ERR_NUMKEYS_POSITIVE "numkeys should be greater than 0"
#define ERR_NUMKEYS_TOO_MANY "Number of keys can't be greater than number of args"
#define ERR_LIMIT_NEGATIVE "LIMIT can't be negative"

/* List commands. */
#define ERR_INDEX_OUT_OF_RANGE "index out of range"
#define ERR_LPOS_RANK_ZERO                                                                         \
    "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "       \
    "negative to start from the end of the list"
#define ERR_LPOS_COUNT_NEGATIVE "COUNT can't be negative"
#define ERR_LPOS_MAXLEN_NEGATIVE "MAXLEN can't be negative"
#define ERR_COUNT_POSITIVE "count should be greater than 0"

/* Sorted set commands. */
#define ERR_ZADD_INCR_PAIR "INCR option supports a single increment-element pair"
#define ERR_ZSET_NAN "resulting score is not a number (NaN)"
#define ERR_MIN_MAX_FLOAT "min or max is not a float"
#define ERR_MIN_MAX_LEX "min or max not valid string range item"
#define ERR_ZRANGE_LIMIT                                                                           \
    "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
#define ERR_ZRANGE_WITHSCORES_LEX "syntax error, WITHSCORES not supported in combination with BYLEX"
#define ERR_WEIGHT_FLOAT "weight value is not a float"
/* printf format: the command's name. */
#define ERR_AT_LEAST_ONE_KEY "at least 1 input key is needed for '%s' command"

/* With the WRONGTYPE prefix. */
#define ERR_WRONGTYPE "Operation against a key holding the wrong kind of value"
/* With the NOAUTH prefix. */
#define ERR_NOAUTH "Authentication required."
/* With the LOADING prefix. */
#define ERR_LOADING "kvrocks is restoring the db from backup"
/* With the READONLY prefix. */
#define ERR_READONLY "You can't write against a read only replica."

#endif
