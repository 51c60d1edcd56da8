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

/* With the WRONGTYPE prefix. */
#define ERR_WRONGTYPE "Operation against a key holding the wrong kind of value"
/* With the NOAUTH prefix. */
#define ERR_NOAUTH "Authentication required."
/* With the LOADING prefix. */
#define ERR_LOADING "kvrocks is restoring the db from backup"
/* With the READONLY prefix. */
#define ERR_READONLY "You can't write against a read only replica."

#endif
