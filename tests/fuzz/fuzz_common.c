/*
 * fuzz_common: scratch files, the query environment and the answer check
 * the harnesses share (fuzz.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "policy/loader.h"
#include "base/config.h"
#include "base/diag.h"
#include "fuzz.h"
#include "policy/policy.h"

const char *
fuzz_dir(void)
{
	static char dir[64];

	if (dir[0] == '\0') {
		const char *base = access("/dev/shm", W_OK) == 0 ?
		    "/dev/shm" : "/tmp";

		snprintf(dir, sizeof(dir), "%s/cordon-fuzz-%ld", base,
		    (long)getpid());
		if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
			abort();
	}
	return dir;
}

void
fuzz_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", fuzz_dir(), name);
}

void
fuzz_write(const char *name, const void *data, size_t len)
{
	char path[256];
	FILE *f;

	fuzz_path(path, sizeof(path), name);
	if ((f = fopen(path, "wb")) == NULL)
		abort();
	if (len > 0 && fwrite(data, 1, len, f) != len)
		abort();
	if (fclose(f) != 0)
		abort();
}

/*
 * The framing of a message, checked here independently of wire.c: what
 * any client's parser needs, whatever the record types.  Names: labels
 * of at most 63 octets, at most 255 in all, pointers strictly backwards
 * and after the header, what a pointer reaches wholly before it; each record whole, its rdata inside the
 * message; the names in the rdata of the types that compress them; A
 * and AAAA of their one length; OPT only in the additional section,
 * once; nothing after the last record.  (ldns refuses more than that:
 * rdata of every type it knows, e.g. an HTTPS record of one byte, which
 * a forwarder passes on as the upstream sent it.)
 */
static bool
name_ok(const uint8_t *m, size_t len, size_t *off, size_t limit)
{
	size_t p = *off, floor = *off, total = 0, end = 0, bound = limit;
	bool jumped = false;

	for (;;) {
		if (p >= bound)
			return false;
		if ((m[p] & 0xc0) == 0xc0) {
			size_t t;

			if (p + 1 >= limit)
				return false;
			t = (size_t)(m[p] & 0x3f) << 8 | m[p + 1];
			if (t >= floor || t >= len || t < 12)
				return false;
			if (!jumped)
				end = p + 2;
			jumped = true;
			floor = t;
			bound = p;
			p = t;
			continue;
		}
		if (m[p] > 63 || p + 1 + m[p] > bound)
			return false;
		total += 1 + (size_t)m[p];
		if (total > 255)
			return false;
		if (m[p] == 0) {
			*off = jumped ? end : p + 1;
			return true;
		}
		p += 1 + (size_t)m[p];
	}
}

static bool
rdata_ok(const uint8_t *m, size_t len, uint16_t type, size_t rd,
    size_t rdend)
{
	/* type, fixed bytes before the names, names, fixed bytes after
	 * (-1: any) */
	static const struct { uint16_t t; uint8_t skip, n; int tail; } k[] = {
		{ 2, 0, 1, 0 }, { 5, 0, 1, 0 }, { 6, 0, 2, 20 },
		{ 12, 0, 1, 0 }, { 15, 2, 1, 0 }, { 33, 6, 1, 0 },
		{ 39, 0, 1, 0 }, { 46, 18, 1, -1 }, { 47, 0, 1, -1 },
	};
	size_t i, j, p;

	if ((type == 1 && rdend - rd != 4) || (type == 28 && rdend - rd != 16))
		return false;
	for (i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (k[i].t != type)
			continue;
		p = rd + k[i].skip;
		if (p > rdend)
			return false;
		for (j = 0; j < k[i].n; j++)
			if (!name_ok(m, len, &p, rdend))
				return false;
		return k[i].tail < 0 || p + (size_t)k[i].tail == rdend;
	}
	return true;
}

void
fuzz_check_answer(const uint8_t *msg, size_t len)
{
	size_t off = 12, n, rd, rdend;
	unsigned sec, i, count, nopt = 0;
	uint16_t type;
	const char *bad = NULL;

	if (len < 12 || !(msg[2] & 0x80))
		bad = "no header, or QR clear";
	else if ((msg[4] << 8 | msg[5]) > 1)
		bad = "more than one question";
	for (i = 0; bad == NULL && i < (unsigned)(msg[4] << 8 | msg[5]);
	    i++) {
		if (!name_ok(msg, len, &off, len) || off + 4 > len)
			bad = "question";
		off += 4;
	}
	for (sec = 1; bad == NULL && sec < 4; sec++) {
		count = (unsigned)(msg[4 + 2 * sec] << 8 | msg[5 + 2 * sec]);
		for (i = 0; bad == NULL && i < count; i++) {
			if (!name_ok(msg, len, &off, len) || off + 10 > len) {
				bad = "record owner";
				break;
			}
			type = (uint16_t)(msg[off] << 8 | msg[off + 1]);
			n = (size_t)(msg[off + 8] << 8 | msg[off + 9]);
			rd = off + 10;
			rdend = rd + n;
			if (rdend > len)
				bad = "rdata past the end";
			else if (type == 41 && (sec != 3 || nopt++ > 0))
				bad = "OPT out of place";
			else if (!rdata_ok(msg, len, type, rd, rdend))
				bad = "rdata names";
			off = rdend;
		}
	}
	if (bad == NULL && off != len)
		bad = "bytes after the last record";
	if (bad != NULL) {
		char path[256];

		fuzz_write("bad-answer.bin", msg, len);
		fuzz_path(path, sizeof(path), "bad-answer.bin");
		fprintf(stderr, "fuzz: cordond sent a malformed message "
		    "(%s; %zu bytes), kept in %s\n", bad, len, path);
		abort();
	}
}

static void
io_send(void *ctx, const struct client *c, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)c;
	fuzz_check_answer(msg, len);
}

static void
io_hold(void *ctx, const struct client *c)
{
	(void)ctx;
	(void)c;
}

static const char lists_manifest[] =
    "[source exchanges]\nfile = ex.domains\nformat = domains\n"
    "category = exchange\nreference = ORDER-1\nede = censored\n\n"
    "[source allow]\nfile = allow.domains\nformat = domains\n"
    "kind = allow\n\n"
    "[source nets]\nfile = nets.cidr\nformat = cidr\ncategory = hosting\n";

struct query_env *
fuzz_query_env(void)
{
	static struct query_env *env;
	struct query_world world = { 0 };
	struct query_io io = { io_send, io_hold, io_hold, NULL, NULL };
	struct config *cfg;
	struct policy *p;
	struct policy_slot *slot;
	struct event_base *base;
	struct diag *d;
	char conf[256], text[1024], manifest[256];

	if (env != NULL)
		return env;
	fuzz_write("ex.domains", "binance.com\nexample.com\nblocked.test\n",
	    37);
	fuzz_write("allow.domains", "ok.example.com\n", 15);
	fuzz_write("nets.cidr", "192.0.2.0/24\n2001:db8::/32\n", 27);
	fuzz_write("sources.ini", lists_manifest, strlen(lists_manifest));
	fuzz_path(manifest, sizeof(manifest), "sources.ini");
	snprintf(text, sizeof(text), "[server]\nlisten = 127.0.0.1:53\n"
	    "allow = 0.0.0.0/0, ::/0\nallow_snoop = 127.0.0.0/8\n"
	    "[upstream]\nservers = 127.0.0.1:9\ncache_size = 1000\n"
	    "[policy]\nlists = %s\ncheck_cname = yes\n"
	    "check_answer_ips = yes\n[log]\nclient_rate = 0\n", manifest);
	fuzz_write("cordon.conf", text, strlen(text));
	fuzz_path(conf, sizeof(conf), "cordon.conf");
	d = diag_new();
	if (d == NULL || loader_load(conf, d, &cfg, &p) == -1) {
		fprintf(stderr, "fuzz: %s\n", d && diag_count(d) ?
		    diag_get(d, 0) : "cannot load the config");
		abort();
	}
	diag_free(d);
	if ((slot = policy_slot_new(p)) == NULL ||
	    (base = event_base_new()) == NULL)
		abort();
	world.clock = clock_system();
	forward_net_io(&world.net, base);	/* unused: fake_forward.c */
	if ((env = query_env_new(cfg, slot, base, NULL, NULL, &io, &world))
	    == NULL)
		abort();
	return env;
}
