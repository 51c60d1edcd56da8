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
#include "common/mem.h"

static enum kv_code
io_error(struct kv_err *err, const char *what, int e)
{
    return kv_err_set(err, KV_ERR_IO, "%s: %s", what, strerror(e));
}

static enum kv_code
write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return KV_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return KV_OK;
}

/* fsync the directory holding `path`, so the rename survives a crash. Best effort: the rename
 * already happened, and reporting a failure now would make the caller refuse a topology that
 * the file already holds. */
static void
sync_parent_dir(const char *path)
{
    struct kv_buf dir = KV_BUF_INIT;
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        kv_buf_append_cstr(&dir, ".");
    else if (slash == path)
        kv_buf_append_cstr(&dir, "/");
    else
        kv_buf_append(&dir, path, (size_t)(slash - path));
    int dfd = open(dir.ptr, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    kv_buf_deinit(&dir);
}

enum kv_code
nodes_file_save(const char *path, const struct cluster_topology *t, struct kv_err *err)
{
    struct kv_buf text = KV_BUF_INIT;
    struct kv_buf tmp = KV_BUF_INIT;
    enum kv_code rc = KV_OK;
    nodes_format_conf(t, &text);
    kv_buf_printf(&tmp, "%s.tmp", path);

    int fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = io_error(err, tmp.ptr, errno);
        goto out;
    }
    if (write_all(fd, text.ptr, text.len) != KV_OK || fsync(fd) != 0) {
        rc = io_error(err, tmp.ptr, errno);
        close(fd);
        goto fail_unlink;
    }
    if (close(fd) != 0) {
        rc = io_error(err, tmp.ptr, errno);
        goto fail_unlink;
    }
    if (rename(tmp.ptr, path) != 0) {
        rc = io_error(err, path, errno);
        goto fail_unlink;
    }
    sync_parent_dir(path);
    goto out;

fail_unlink:
    unlink(tmp.ptr);
out:
    kv_buf_deinit(&tmp);
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
