/*
 * tlog: tree, key and checkpoints file of the audit writer.  The tree
 * file is text: "cordon-tree 1", the size, the seq of the last leaf,
 * then the compact range's hashes in hex, one a line.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/atomicfile.h"
#include "audit/audit.h"
#include "audit/auditread.h"
#include "base/json.h"
#include "audit/merkle.h"
#include "audit/note.h"
#include "audit/tlog.h"

struct tlog {
	struct note_key *key;
	char origin[300];
	char *checkpoints_path;
	char *tree_path;
	uint32_t every_ms;
	struct merkle_tree tree;
	struct merkle_hasher *hasher;
	uint64_t last_seq;		/* of the last leaf */
	uint64_t cp_size;		/* tree size of the last checkpoint */
	uint64_t cp_ms;			/* when it was written */
	bool want;			/* a reload asked for one */
	char *cp_line;			/* the last checkpoint's line */
	size_t cp_len;
};

static int
tree_save(const struct tlog *t)
{
	char buf[64 * 66 + 128];
	int n, k;
	unsigned i, j;

	n = snprintf(buf, sizeof(buf), "cordon-tree 1\n%" PRIu64 "\n%" PRIu64
	    "\n", t->tree.size, t->last_seq);
	for (i = 0; i < t->tree.depth; i++) {
		for (j = 0; j < MERKLE_HASH; j++) {
			k = snprintf(buf + n, sizeof(buf) - (size_t)n, "%02x",
			    t->tree.stack[i][j]);
			n += k;
		}
		buf[n++] = '\n';
	}
	return atomicfile_replace(t->tree_path, buf, (size_t)n, 0640);
}

/* 1 loaded, 0 no file, -1 not a tree file */
static int
tree_load(struct tlog *t)
{
	FILE *f = fopen(t->tree_path, "r");
	char line[128];
	unsigned depth = 0, j, bits = 0;
	uint64_t s;

	if (f == NULL)
		return errno == ENOENT ? 0 : -1;
	if (fgets(line, sizeof(line), f) == NULL ||
	    strcmp(line, "cordon-tree 1\n") != 0 ||
	    fscanf(f, "%" SCNu64 " %" SCNu64 " ", &t->tree.size,
	    &t->last_seq) != 2)
		goto bad;
	for (s = t->tree.size; s != 0; s >>= 1)
		bits += s & 1;
	while (depth < bits && fgets(line, sizeof(line), f) != NULL) {
		if (strlen(line) != 2 * MERKLE_HASH + 1)
			goto bad;
		for (j = 0; j < MERKLE_HASH; j++) {
			unsigned v;

			if (sscanf(line + 2 * j, "%2x", &v) != 1)
				goto bad;
			t->tree.stack[depth][j] = (uint8_t)v;
		}
		depth++;
	}
	if (depth != bits)
		goto bad;
	t->tree.depth = depth;
	fclose(f);
	return 1;
bad:
	fclose(f);
	return -1;
}

/* Appends the lines of log_path after last_seq; -1 when unreadable. */
static int
catch_up(struct tlog *t, const char *log_path, bool fresh, char *note,
    size_t notelen)
{
	struct auditread_line ln;
	struct auditread *r;
	const char *why;
	merkle_hash h;
	bool first = true;
	int rc;

	if ((r = auditread_open(log_path, &why)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((rc = auditread_next(r, &ln, &why)) == 1) {
		uint64_t seq;

		if (ln.is_long || ln.is_torn)
			continue;
		seq = audit_line_seq(ln.text, ln.len);
		if (first && fresh && seq > 1)
			snprintf(note, notelen, "%s: no tree file and the log "
			    "starts at seq %" PRIu64 ": its checkpoints cover "
			    "the lines from there", log_path, seq);
		first = false;
		if (seq <= t->last_seq)
			continue;
		merkle_hasher_leaf(t->hasher, ln.text, ln.len, h);
		merkle_append_h(&t->tree, t->hasher, h);
		t->last_seq = seq;
	}
	auditread_close(r);
	return rc == -1 ? -1 : 0;
}

struct tlog *
tlog_open(const struct tlog_conf *c, const char *log_path, char *err,
    size_t errlen, char *note, size_t notelen)
{
	struct tlog *t = calloc(1, sizeof(*t));
	char host[256];
	int loaded;

	note[0] = '\0';
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	merkle_init(&t->tree);
	if (c->origin != NULL && c->origin[0] != '\0')
		snprintf(t->origin, sizeof(t->origin), "%s", c->origin);
	else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(t->origin, sizeof(t->origin), "cordon/%s", host);
	}
	t->every_ms = c->every_ms;
	if ((t->hasher = merkle_hasher_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((t->key = note_key_load(c->key_path, t->origin, err, errlen)) ==
	    NULL)
		goto fail;
	if ((c->checkpoints_path != NULL && c->checkpoints_path[0] != '\0' ?
	    asprintf(&t->checkpoints_path, "%s", c->checkpoints_path) :
	    asprintf(&t->checkpoints_path, "%s.checkpoints", log_path)) < 0 ||
	    asprintf(&t->tree_path, "%s.tree", log_path) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((loaded = tree_load(t)) == -1) {
		snprintf(err, errlen, "%s: not a tree file", t->tree_path);
		goto fail;
	}
	if (catch_up(t, log_path, loaded == 0, note, notelen) == -1) {
		snprintf(err, errlen, "%s: cannot read it back for the tree",
		    log_path);
		goto fail;
	}
	t->cp_size = UINT64_MAX;
	t->cp_ms = clock_mono_ms();
	return t;
fail:
	tlog_close(t);
	return NULL;
}

void
tlog_line(struct tlog *t, const char *line, size_t len)
{
	merkle_hash h;

	merkle_hasher_leaf(t->hasher, line, len, h);
	merkle_append_h(&t->tree, t->hasher, h);
	t->last_seq = audit_line_seq(line, len);
	/* PRODUCT.md: a checkpoint at each reload (its policy line).  An
	 * event line names its event right after seq and ts; a blocked
	 * line has "client" there, so only the head is looked at. */
	if (memmem(line, len < 96 ? len : 96, "\"event\":\"policy\"", 16) !=
	    NULL)
		t->want = true;
}

/* Appends all of buf to fd; -1 on error. */
static int
append_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Signs a checkpoint of the tree as it stands and appends its line to
 * the checkpoints file; the line (no newline) stays in t->cp_line. */
static void
write_checkpoint(struct tlog *t)
{
	char text[512], ts[32];
	merkle_hash root;
	time_t now = time(NULL);
	char *note, *line = NULL;
	size_t len = 0;
	FILE *mem;
	int fd;

	merkle_root(&t->tree, root);
	if (note_checkpoint_text(t->origin, t->tree.size, root, text,
	    sizeof(text)) == 0 || (note = note_sign(t->key, text)) == NULL)
		return;
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	if ((mem = open_memstream(&line, &len)) != NULL) {
		fprintf(mem, "{\"size\":%" PRIu64 ",\"ts\":\"%s\",\"note\":",
		    t->tree.size, ts);
		json_put_string(mem, note);
		fputs("}\n", mem);
		if (fclose(mem) != 0) {
			free(line);
			line = NULL;
		}
	}
	free(note);
	if (line == NULL)
		return;
	fd = open(t->checkpoints_path, O_WRONLY | O_APPEND | O_CREAT |
	    O_CLOEXEC, 0640);
	if (fd != -1) {
		if (append_all(fd, line, len) == 0)
			(void)fdatasync(fd);
		close(fd);
	}
	line[len - 1] = '\0';
	free(t->cp_line);
	t->cp_line = line;
	t->cp_len = len - 1;
	t->cp_size = t->tree.size;
	t->cp_ms = clock_mono_ms();
	t->want = false;
}

const char *
tlog_point(struct tlog *t, bool force, size_t *len)
{
	uint64_t now = clock_mono_ms();
	bool is_written = false;

	if (force || t->want || (t->tree.size != t->cp_size &&
	    now - t->cp_ms >= t->every_ms)) {
		if (t->tree.size != t->cp_size || force) {
			free(t->cp_line);
			t->cp_line = NULL;
			write_checkpoint(t);
			is_written = t->cp_line != NULL;
		}
		(void)tree_save(t);
	}
	if (!is_written)
		return NULL;
	*len = t->cp_len;
	return t->cp_line;
}

uint64_t
tlog_size(const struct tlog *t)
{
	return t->tree.size;
}

void
tlog_close(struct tlog *t)
{
	if (t == NULL)
		return;
	note_key_free(t->key);
	merkle_hasher_free(t->hasher);
	free(t->checkpoints_path);
	free(t->tree_path);
	free(t->cp_line);
	free(t);
}
