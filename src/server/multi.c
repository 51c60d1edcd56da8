/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until transactions land (issue 3). */
#include "server/multi.h"

#include "server/conn.h"

void
multi_conn_free(struct conn *c)
{
}
