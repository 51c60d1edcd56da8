/* SPDX-License-Identifier: Apache-2.0 */
#include "server/notify.h"

#include "server/blocking.h"
#include "server/server.h"
#include "server/watch.h"

void
notify_touched(void *arg, struct kv_slice ns, struct kv_slice key)
{
    struct server *srv = arg;
    watch_on_touched(srv, ns, key);
    blocking_on_touched(srv, ns, key);
}

void
notify_hooks_init(struct db_hooks *hooks, struct server *srv)
{
    hooks->touched = notify_touched;
    hooks->arg = srv;
}
