/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until pub/sub lands (issue 3). */
#include "server/pubsub.h"

#include "server/conn.h"

int64_t
pubsub_publish(struct server *srv, struct kv_slice channel, struct kv_slice message)
{
    return 0;
}

void
pubsub_conn_free(struct conn *c)
{
}
