/* SPDX-License-Identifier: Apache-2.0
 *
 * dlist: an intrusive doubly linked list. A node lives inside the object it links; the list
 * never allocates and never frees: whoever owns the objects frees them after unlinking.
 * An empty list is a head whose next and prev point to itself (dlist_init).
 *
 * Threads: none of its own; the owner serialises access.
 */
#ifndef KV_COMMON_DLIST_H
#define KV_COMMON_DLIST_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct dlist {
    struct dlist *next;
    struct dlist *prev;
};

static inline void
dlist_init(struct dlist *head)
{
    head->next = head;
    head->prev = head;
}

static inline bool
dlist_empty(const struct dlist *head)
{
    return head->next == head;
}

/* A node not in any list (after dlist_init on it, or dlist_remove). */
static inline bool
dlist_linked(const struct dlist *node)
{
    return node->next != node && node->next != NULL;
}

static inline void
dlist_insert_tail(struct dlist *head, struct dlist *node)
{
    node->prev = head->prev;
    node->next = head;
    head->prev->next = node;
    head->prev = node;
}

static inline void
dlist_insert_head(struct dlist *head, struct dlist *node)
{
    node->next = head->next;
    node->prev = head;
    head->next->prev = node;
    head->next = node;
}

static inline void
dlist_remove(struct dlist *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->next = node;
    node->prev = node;
}

/* The object containing `node`, as `type`, where `member` is the node's field name. */
#define dlist_entry(node, type, member) ((type *)((char *)(node)-offsetof(type, member)))

/* Iterate safely against removal of the current node. */
#define dlist_foreach_safe(pos, tmp, head)                                                         \
    for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head);                               \
         (pos) = (tmp), (tmp) = (pos)->next)

#ifdef __cplusplus
}
#endif

#endif
