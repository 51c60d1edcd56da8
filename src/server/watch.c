/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until transactions land (issue 3). */
#include "server/watch.h"

#include "server/conn.h"

enum kv_code
watch_add(struct conn *c, struct kv_slice key, struct kv_err *err)
{
    return kv_err_set(err, KV_ERR, "not implemented yet");
}

void
watch_clear(struct conn *c)
{
}

bool
watch_is_dirty(struct conn *c)
{
    return false;
}

void
watch_on_touched(struct server *srv, struct kv_slice ns, struct kv_slice key)
{
}

void
watch_conn_free(struct conn *c)
{
}
