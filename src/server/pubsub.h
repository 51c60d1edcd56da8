/* SPDX-License-Identifier: Apache-2.0
 *
 * pubsub: the channel and pattern registry shared by all workers. PUBLISH on any worker
 * delivers a copy of the message to every subscriber, on the subscriber's own worker (a task
 * posted to its inbox); a subscriber whose pending output passes the pubsub output limit is
 * disconnected, never slowing the publisher.
 *
 * Threads: any worker.
 */
#ifndef KV_SERVER_PUBSUB_H
#define KV_SERVER_PUBSUB_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;

/* Deliver to local subscribers of `channel` (and matching patterns); returns the number of
 * receivers. Does not write to storage (PUBLISH does that). */
int64_t pubsub_publish(struct server *srv, struct kv_slice channel, struct kv_slice message);

/* Forget every subscription of c (its worker, before freeing it). */
void pubsub_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
