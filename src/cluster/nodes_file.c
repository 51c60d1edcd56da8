/* SPDX-License-Identifier: Apache-2.0
 *
 * nodes_file: atomic save, load and removal of nodes.conf (nodes_file.h).
 *
 * Threads: any; no shared state.
 */
#include "cluster/nodes_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/file.h"
#include "common/mem.h"

static enum kv_code
io_error(struct kv_err *err, const char *what, int e)
{
    return kv_err_set(err, KV_ERR_IO, "%s: %s", what, strerror(e));
}

enum kv_code
nodes_file_save(const char *path, const struct cluster_topology *t, struct kv_err *err)
{
    struct kv_buf text = KV_BUF_INIT;
    nodes_format_conf(t, &text);
    enum kv_code rc = file_write_atomic(path, text.ptr, text.len, err);
    kv_buf_deinit(&text);
    return rc;
}

enum kv_code
nodes_file_load(const char *path, struct cluster_topology **out, struct kv_err *err)
{
    struct kv_buf text = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return KV_NOTFOUND;
        return io_error(err, path, errno);
    }
    for (;;) {
        kv_buf_reserve(&text, 4096);
        ssize_t n = read(fd, text.ptr + text.len, text.cap - text.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = io_error(err, path, errno);
            goto out;
        }
        if (n == 0)
            break;
        text.len += (size_t)n; /* not kv_buf_resize: it zero-fills the new bytes */
        text.ptr[text.len] = '\0';
    }

    struct kv_err perr;
    kv_err_clear(&perr);
    rc = nodes_parse_conf(text.ptr ? text.ptr : "", text.len, out, &perr);
    if (rc != KV_OK)
        kv_err_set(err, rc, "%s: %s", path, perr.msg);

out:
    close(fd);
    kv_buf_deinit(&text);
    return rc;
}

enum kv_code
nodes_file_remove(const char *path, struct kv_err *err)
{
    struct kv_buf tmp = KV_BUF_INIT;
    kv_buf_printf(&tmp, "%s.tmp", path);
    (void)unlink(tmp.ptr);
    kv_buf_deinit(&tmp);
    if (unlink(path) != 0 && errno != ENOENT)
        return io_error(err, path, errno);
    return KV_OK;
}
