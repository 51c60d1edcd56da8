/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the server lands (see server/server.h). */
#include <stdio.h>

int
main(void)
{
    puts("kvrocks-c: not built yet");
    return 1;
}
