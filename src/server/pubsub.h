/* SPDX-License-Identifier: Apache-2.0
 *
 * pubsub: the channel and pattern registry shared by all workers (one per process: the process
 * runs one server), and the per-connection subscriptions. Channels are global, not per namespace
 * (as in Kvrocks and Redis).
 *
 * Delivery: PUBLISH on any worker looks up the subscribers under the registry mutex, then hands
 * each subscriber's worker one task carrying a copy of the message and the ids of its target
 * connections (subscribers on the publisher's own worker are served at once, so a client that
 * receives its own message sees it before PUBLISH's reply, as in Redis). The subscriber's worker
 * writes ["message", channel, msg] or ["pmessage", pattern, channel, msg] (RESP2 arrays, RESP3
 * pushes), in publish order per publisher, and flushes. A connection that unsubscribed meanwhile
 * is skipped. A subscriber whose pending output passes PUBSUB_OUTPUT_LIMIT_BYTES is disconnected
 * on its own worker with a log line (INFO client_output_buffer_limit_disconnections), so a
 * subscriber that does not read never slows the publisher or other subscribers.
 *
 * Subscription order is kept per connection, so UNSUBSCRIBE / PUNSUBSCRIBE without arguments
 * confirm in the order of subscription.
 *
 * Locking: the registry mutex is a leaf; nothing is posted or written to a socket while holding
 * it. Per-connection subscriptions belong to the connection's worker.
 *
 * Threads: subscribe/unsubscribe/first/counts/conn_free on the connection's worker; publish and
 * the registry queries from any worker.
 */
#ifndef KV_SERVER_PUBSUB_H
#define KV_SERVER_PUBSUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"
#include "common/status.h"

#ifdef __cplusplus
extern "C" {
#endif

struct server;
struct conn;
struct resp_out;
struct storage;

/* The hard output limit of a subscribed connection (Redis' default
 * `client-output-buffer-limit pubsub 32mb`). */
#define PUBSUB_OUTPUT_LIMIT_BYTES (32u << 20)

/* Deliver to this node's subscribers of `channel` (and of matching patterns); returns the number
 * of receivers (a connection subscribed to the channel and to two matching patterns counts
 * three times, as in Redis). Does not write to storage (PUBLISH does that). Any thread (the
 * replica delivers the messages of applied batches with this). */
int64_t pubsub_publish(struct server *srv, struct kv_slice channel, struct kv_slice message);

/* The same for the PUBLISH command: `publisher` is the connection running it on the calling
 * worker. It may receive its own message (written before PUBLISH's reply, as in Redis) but is
 * neither flushed nor freed here. */
int64_t pubsub_publish_by(struct server *srv, struct conn *publisher, struct kv_slice channel,
                          struct kv_slice message);

/* PUBLISH's record: `channel -> message` written into the pubsub column family as one batch, so
 * the message reaches replicas through the WAL (the replica delivers it to its own subscribers).
 * Kvrocks' format: the raw channel is the key, the message the value. Nothing is written on a
 * replica (its sequence numbers must stay its master's; as in Kvrocks, a message published on a
 * replica reaches only that replica's subscribers). KV_ERR_IO from storage. */
enum kv_code pubsub_write_record(struct server *srv, struct storage *st, struct kv_slice channel,
                                 struct kv_slice message, struct kv_err *err);

/* SUBSCRIBE / PSUBSCRIBE one channel or pattern for c (nothing changes when it already is).
 * Returns c's subscription count afterwards (channels + patterns), for the confirmation. Sets
 * CONN_F_PUBSUB. */
size_t pubsub_subscribe(struct conn *c, struct kv_slice channel);
size_t pubsub_psubscribe(struct conn *c, struct kv_slice pattern);

/* UNSUBSCRIBE / PUNSUBSCRIBE one channel or pattern (nothing changes when c is not subscribed to
 * it). Returns c's subscription count afterwards; clears CONN_F_PUBSUB when it reaches 0. */
size_t pubsub_unsubscribe(struct conn *c, struct kv_slice channel);
size_t pubsub_punsubscribe(struct conn *c, struct kv_slice pattern);

/* c's oldest channel (or pattern) subscription, copied into out (cleared first); false when c
 * has none. For UNSUBSCRIBE / PUNSUBSCRIBE without arguments. */
bool pubsub_first_channel(const struct conn *c, struct kv_buf *out);
bool pubsub_first_pattern(const struct conn *c, struct kv_buf *out);

/* c's subscriptions: channels, patterns. */
size_t pubsub_conn_channels(const struct conn *c);
size_t pubsub_conn_patterns(const struct conn *c);

/* PUBSUB CHANNELS [pattern]: write an array of the channels with at least one subscriber,
 * matching `pattern` (NULL: all) with Redis' glob rules. */
void pubsub_write_channels(const struct kv_slice *pattern, struct resp_out *out);

/* PUBSUB NUMSUB: subscribers of one channel (pattern subscriptions not counted). */
int64_t pubsub_numsub(struct kv_slice channel);

/* Distinct channels / patterns with at least one subscriber (PUBSUB NUMPAT, INFO). */
size_t pubsub_channel_count(void);
size_t pubsub_pattern_count(void);

/* Forget every subscription of c (its worker, before freeing it). */
void pubsub_conn_free(struct conn *c);

#ifdef __cplusplus
}
#endif

#endif
