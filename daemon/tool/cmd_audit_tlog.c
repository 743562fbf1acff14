/*
 * cmd_audit_tlog: the audit log as a transparency log (PRODUCT.md,
 * "Transparency: signed checkpoints"): `cordon audit keygen`,
 * `checkpoint` (sign the tree of the lines so far), `prove` (inclusion
 * and consistency proofs), and the checkpoint part of `verify`.
 *
 * The leaves are the lines of the files given, in order, without their
 * newlines (merkle.h); a checkpoints file holds one JSON object a line,
 * {"size":N,"ts":"...","note":"..."}, the note a C2SP signed checkpoint
 * (note.h).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "audit/audit.h"
#include "audit/auditgz.h"
#include "audit/auditread.h"
#include "tool/cmd.h"
#include "tool/cmd_audit_impl.h"
#include "base/json.h"
#include "audit/merkle.h"
#include "audit/note.h"

#define NOTE_MAX 4096

/* Every line of the files, hashed, and the seq of each. */
struct leaves {
	merkle_hash *hash;
	uint64_t *seq;
	uint64_t n, cap;
};

struct leaf_reader {
	struct merkle_hasher *hs;
	struct leaves *lv;
};

static int
on_leaf_line(void *arg, const char *file, const struct auditread_line *ln)
{
	struct leaf_reader *lr = arg;
	struct leaves *lv = lr->lv;

	(void)file;
	if (lv->n == lv->cap) {
		uint64_t cap = lv->cap ? lv->cap * 2 : 4096;
		void *h = realloc(lv->hash, cap * sizeof(*lv->hash));
		void *s = h ? realloc(lv->seq, cap * sizeof(*lv->seq)) : NULL;

		if (h != NULL)
			lv->hash = h;
		if (s == NULL)
			cmd_oom("reading the log");
		lv->seq = s;
		lv->cap = cap;
	}
	merkle_hasher_leaf(lr->hs, ln->text, ln->len, lv->hash[lv->n]);
	lv->seq[lv->n] = ln->is_long ? 0 : audit_line_seq(ln->text, ln->len);
	lv->n++;
	return 0;
}

static int
read_leaves(char **files, int nfiles, struct leaves *lv)
{
	struct leaf_reader lr = { merkle_hasher_new(), lv };
	int rc;

	memset(lv, 0, sizeof(*lv));
	if (lr.hs == NULL)
		cmd_oom("reading the log");
	rc = cmd_audit_walk(files, nfiles, on_leaf_line, &lr);
	merkle_hasher_free(lr.hs);
	return rc == WALK_DONE ? 0 : -1;
}

static void
leaves_free(struct leaves *lv)
{
	free(lv->hash);
	free(lv->seq);
}

static void
put_b64(FILE *f, const uint8_t *p, size_t n)
{
	char buf[128];

	EVP_EncodeBlock((unsigned char *)buf, p, (int)n);
	fputs(buf, f);
}

/* The verifier from a key text or a file holding one (a .pub). */
static struct note_verifier *
load_verifier(const char *arg)
{
	char buf[512];
	const char *why, *text = arg;
	struct note_verifier *v;
	FILE *f;

	if (strchr(arg, '+') == NULL && (f = fopen(arg, "r")) != NULL) {
		if (fgets(buf, sizeof(buf), f) == NULL)
			buf[0] = '\0';
		fclose(f);
		buf[strcspn(buf, "\r\n")] = '\0';
		text = buf;
	}
	if ((v = note_verifier_parse(text, &why)) == NULL)
		fprintf(stderr, "cordon: --key %s: %s\n", arg, why);
	return v;
}

static void
default_origin(char *buf, size_t size)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, size, "cordon/%s", host);
}

/* ---- keygen ---- */

int
cmd_audit_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "origin", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	char origin[300], vkey[512], pub[4096], err[512];
	const char *out = NULL;
	struct note_key *k;
	FILE *f;
	int ch;

	default_origin(origin, sizeof(origin));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (ch == 'n')
			snprintf(origin, sizeof(origin), "%s", optarg);
		else if (ch == 'o')
			out = optarg;
		else
			return 2;
	}
	if (out == NULL || optind != argc) {
		fprintf(stderr, "usage: cordon audit keygen [--origin NAME] "
		    "-o FILE\n");
		return 2;
	}
	if ((k = note_key_generate(origin)) == NULL) {
		fprintf(stderr, "cordon: --origin \"%s\": not a key name (no "
		    "spaces, no '+')\n", origin);
		return 1;
	}
	snprintf(pub, sizeof(pub), "%s.pub", out);
	if (note_vkey(k, vkey, sizeof(vkey)) == 0 ||
	    note_key_save(k, out, err, sizeof(err)) == -1) {
		fprintf(stderr, "cordon: %s\n", err);
		note_key_free(k);
		return 1;
	}
	note_key_free(k);
	if ((f = fopen(pub, "w")) == NULL || fprintf(f, "%s\n", vkey) < 0 ||
	    fclose(f) != 0) {
		fprintf(stderr, "cordon: %s: %s\n", pub, strerror(errno));
		return 1;
	}
	printf("%s\n", vkey);
	return 0;
}

/* ---- checkpoint ---- */

int
cmd_audit_checkpoint(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "origin", required_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfile = NULL, *out = NULL;
	char origin[300], text[512], err[512], ts[32];
	struct note_key *k;
	struct leaves lv;
	merkle_hash root;
	time_t now = time(NULL);
	char *note;
	FILE *f;
	int ch, rc = 1;

	default_origin(origin, sizeof(origin));
	optind = 1;
	while ((ch = getopt_long(argc, argv, "o:", opts, NULL)) != -1) {
		if (ch == 'k')
			keyfile = optarg;
		else if (ch == 'n')
			snprintf(origin, sizeof(origin), "%s", optarg);
		else if (ch == 'o')
			out = optarg;
		else
			return 2;
	}
	if (keyfile == NULL || out == NULL || optind >= argc) {
		fprintf(stderr, "usage: cordon audit checkpoint LOG... --key "
		    "FILE [--origin NAME] -o CHECKPOINTS\n");
		return 2;
	}
	if ((k = note_key_load(keyfile, origin, err, sizeof(err))) == NULL) {
		fprintf(stderr, "cordon: %s\n", err);
		return 1;
	}
	if (read_leaves(argv + optind, argc - optind, &lv) == 0) {
		merkle_root_of(lv.hash, lv.n, root);
		note_checkpoint_text(origin, lv.n, root, text, sizeof(text));
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		if ((note = note_sign(k, text)) == NULL)
			fprintf(stderr, "cordon: cannot sign\n");
		else if ((f = fopen(out, "a")) == NULL)
			fprintf(stderr, "cordon: %s: %s\n", out,
			    strerror(errno));
		else {
			fprintf(f, "{\"size\":%" PRIu64 ",\"ts\":\"%s\","
			    "\"note\":", lv.n, ts);
			json_put_string(f, note);
			fputs("}\n", f);
			rc = fclose(f) == 0 ? 0 : 1;
			if (rc == 0)
				printf("%s", text);
		}
		free(note);
	}
	leaves_free(&lv);
	note_key_free(k);
	return rc;
}

/* ---- reading checkpoints ---- */

struct checkpoint {
	uint64_t size;
	merkle_hash root;
	char origin[256];
};

/* Appends code point cp as UTF-8; false when it does not fit. */
static bool
put_utf8(char *out, size_t cap, size_t *n, unsigned long cp)
{
	unsigned char b[4];
	size_t k = 0, i;

	if (cp < 0x80)
		b[k++] = (unsigned char)cp;
	else if (cp < 0x800) {
		b[k++] = (unsigned char)(0xc0 | cp >> 6);
		b[k++] = (unsigned char)(0x80 | (cp & 0x3f));
	} else {
		b[k++] = (unsigned char)(0xe0 | cp >> 12);
		b[k++] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		b[k++] = (unsigned char)(0x80 | (cp & 0x3f));
	}
	if (*n + k >= cap)
		return false;
	for (i = 0; i < k; i++)
		out[(*n)++] = (char)b[i];
	return true;
}

/*
 * The string value of "note" in a checkpoints line, JSON-decoded into
 * out (escapes \n \t \" \\ \/ and \uXXXX of the BMP, as any JSON
 * writer may use them); -1 when there is none.
 */
static int
note_of(const char *line, char *out, size_t cap, size_t *outlen)
{
	const char *p = strstr(line, "\"note\"");
	size_t n = 0;

	if (p == NULL)
		return -1;
	p += 6;
	p += strspn(p, " \t");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " \t");
	if (*p++ != '"')
		return -1;
	for (; *p != '"'; p++) {
		unsigned long cp = (unsigned char)*p;

		if (*p == '\0')
			return -1;
		if (*p == '\\') {
			switch (*++p) {
			case 'n': cp = '\n'; break;
			case 't': cp = '\t'; break;
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'u': {
				char hex[5] = { 0 }, *end;

				memcpy(hex, p + 1, 4);
				cp = strtoul(hex, &end, 16);
				if (end != hex + 4 || (cp >= 0xd800 &&
				    cp <= 0xdfff))
					return -1;
				p += 4;
				break;
			}
			default: return -1;
			}
			if (!put_utf8(out, cap, &n, cp))
				return -1;
			continue;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = *p;
	}
	out[n] = '\0';
	*outlen = n;
	return 0;
}

/* Reads and checks every checkpoint of path; -1 after a message. */
static int
read_checkpoints(const char *path, const struct note_verifier *v,
    struct checkpoint **cps, size_t *ncps)
{
	char line[NOTE_MAX + 256], note[NOTE_MAX];
	size_t lineno = 0, len, tl;
	const char *why;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		fprintf(stderr, "cordon: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct checkpoint c, *grown;

		lineno++;
		if (line[0] == '\n')
			continue;
		if (note_of(line, note, sizeof(note), &len) == -1) {
			fprintf(stderr, "cordon: %s:%zu: not a checkpoint "
			    "line\n", path, lineno);
			fclose(f);
			return -1;
		}
		if (note_open(v, note, len, &tl, &why) == -1 ||
		    note_checkpoint_parse(note, tl, c.origin,
		    sizeof(c.origin), &c.size, c.root) == -1) {
			fprintf(stderr, "cordon: %s:%zu: checkpoint: %s\n",
			    path, lineno, note_open(v, note, len, &tl, &why) ?
			    why : "not a checkpoint text");
			fclose(f);
			return -1;
		}
		grown = realloc(*cps, (*ncps + 1) * sizeof(**cps));
		if (grown == NULL)
			cmd_oom("reading checkpoints");
		*cps = grown;
		(*cps)[(*ncps)++] = c;
	}
	fclose(f);
	return 0;
}

int
cmd_audit_tlog_verify(char **files, int nfiles, const char *key,
    char **cpfiles, int ncpfiles, bool partial)
{
	struct note_verifier *v = load_verifier(key);
	struct checkpoint *cps = NULL;
	struct leaves lv;
	merkle_hash root;
	size_t ncps = 0, i;
	int rc = 0;

	if (v == NULL)
		return 1;
	for (i = 0; i < (size_t)ncpfiles; i++)
		if (read_checkpoints(cpfiles[i], v, &cps, &ncps) == -1)
			rc = 1;
	if (rc == 0 && read_leaves(files, nfiles, &lv) == 0) {
		if (!partial && (lv.n == 0 || lv.seq[0] != 1)) {
			fprintf(stderr, "cordon: the log does not start at seq "
			    "1 (%s): a head was cut, or say --partial\n",
			    lv.n ? "it starts later" : "it is empty");
			rc = 1;
		}
		for (i = 0; i < ncps; i++) {
			if (cps[i].size > lv.n) {
				fprintf(stderr, "cordon: checkpoint of %" PRIu64
				    " lines, the log holds %" PRIu64 ": lines "
				    "were cut\n", cps[i].size, lv.n);
				rc = 1;
				continue;
			}
			if (partial)
				continue;	/* no tree from seq 1 to check */
			merkle_root_of(lv.hash, cps[i].size, root);
			if (memcmp(root, cps[i].root, MERKLE_HASH) != 0) {
				fprintf(stderr, "cordon: checkpoint of %" PRIu64
				    " lines does not match the log: its first "
				    "%" PRIu64 " lines were altered\n",
				    cps[i].size, cps[i].size);
				rc = 1;
			}
		}
		if (rc == 0)
			printf("checkpoints: %zu verified (signed by %s)%s\n",
			    ncps, key, partial ? "; --partial: sizes only" :
			    "");
		leaves_free(&lv);
	} else
		rc = 1;
	free(cps);
	note_verifier_free(v);
	return rc;
}

/* ---- prove ---- */

static void
put_proof(const merkle_hash *proof, int n)
{
	int i;

	fputs("\"hashes\":[", stdout);
	for (i = 0; i < n; i++) {
		fputs(i ? ",\"" : "\"", stdout);
		put_b64(stdout, proof[i], MERKLE_HASH);
		fputc('"', stdout);
	}
	fputc(']', stdout);
}

/* The latest checkpoint of path (any signer: prove shows, verify
 * checks), or the whole log when there is none. */
static uint64_t
latest_size(const char *path, uint64_t n)
{
	char line[NOTE_MAX + 256], note[NOTE_MAX], origin[256];
	uint64_t size, best = 0;
	merkle_hash root;
	size_t len;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return n;
	while (fgets(line, sizeof(line), f) != NULL) {
		const char *sep;

		if (note_of(line, note, sizeof(note), &len) == -1 ||
		    (sep = strstr(note, "\n\n")) == NULL ||
		    note_checkpoint_parse(note, (size_t)(sep - note) + 1,
		    origin, sizeof(origin), &size, root) == -1)
			continue;
		if (size > best)
			best = size;
	}
	fclose(f);
	return best > 0 && best <= n ? best : n;
}

/* --consistency OLD NEW: the proof that the first OLD lines are the
 * head of the first NEW, with both roots. */
static int
prove_consistency(const struct leaves *lv, uint64_t old, uint64_t size)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root;
	int np;

	if (size > lv->n || old > size) {
		fprintf(stderr, "cordon: the log holds %" PRIu64 " lines\n",
		    lv->n);
		return 1;
	}
	np = merkle_consistency_proof(lv->hash, size, old, proof);
	printf("{\"old_size\":%" PRIu64 ",\"old_root\":\"", old);
	merkle_root_of(lv->hash, old, root);
	put_b64(stdout, root, MERKLE_HASH);
	printf("\",\"tree_size\":%" PRIu64 ",\"root\":\"", size);
	merkle_root_of(lv->hash, size, root);
	put_b64(stdout, root, MERKLE_HASH);
	fputs("\",", stdout);
	put_proof(proof, np);
	fputs("}\n", stdout);
	return 0;
}

/* Line index (0-based) of the files as a JSON string, so a third party
 * can hash it; "" when it cannot be read again. */
static void
put_line_at(char **files, int nfiles, uint64_t index)
{
	struct auditread *r;
	struct auditread_line ln;
	const char *why;
	uint64_t k = 0;
	char *copy = NULL;
	int j;

	for (j = 0; j < nfiles && copy == NULL; j++) {
		if ((r = auditread_open_any(files[j], &why)) == NULL)
			break;
		while (auditread_next(r, &ln, &why) == 1)
			if (k++ == index) {
				if ((copy = strndup(ln.text, ln.len)) == NULL)
					cmd_oom("copying a line");
				break;
			}
		auditread_close(r);
	}
	json_put_string(stdout, copy ? copy : "");
	free(copy);
}

/* --seq N: the inclusion proof of line N in the tree of the latest
 * checkpoint (or of the whole log), with the line. */
static int
prove_inclusion(const struct leaves *lv, uint64_t seq, const char *cpfile,
    char **files, int nfiles)
{
	merkle_hash proof[MERKLE_MAX_PROOF], root;
	uint64_t size = latest_size(cpfile, lv->n), i;
	int np;

	for (i = 0; i < size && lv->seq[i] != seq; i++)
		;
	if (i == size) {
		fprintf(stderr, "cordon: no line with seq %" PRIu64 " in the "
		    "first %" PRIu64 " lines\n", seq, size);
		return 1;
	}
	np = merkle_inclusion_proof(lv->hash, size, i, proof);
	merkle_root_of(lv->hash, size, root);
	printf("{\"seq\":%" PRIu64 ",\"leaf_index\":%" PRIu64 ",\"tree_size\":"
	    "%" PRIu64 ",\"root\":\"", seq, i, size);
	put_b64(stdout, root, MERKLE_HASH);
	fputs("\",", stdout);
	put_proof(proof, np);
	fputs(",\"line\":", stdout);
	put_line_at(files, nfiles, i);
	fputs("}\n", stdout);
	return 0;
}

int
cmd_audit_prove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seq", required_argument, NULL, 's' },
		{ "checkpoints", required_argument, NULL, 'c' },
		{ "consistency", required_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cpfile = NULL;
	uint64_t seq = 0, old = 0, size = 0;
	struct leaves lv;
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 's')
			seq = strtoull(optarg, NULL, 10);
		else if (ch == 'c')
			cpfile = optarg;
		else if (ch == 'C')
			old = strtoull(optarg, NULL, 10);
		else
			return 2;
	}
	/* --consistency OLD NEW: NEW is the next argument */
	if ((seq == 0) == (old == 0) || optind >= argc) {
		fprintf(stderr, "usage: cordon audit prove LOG... --seq N "
		    "[--checkpoints FILE]\n       cordon audit prove "
		    "--consistency OLD NEW LOG...\n");
		return 2;
	}
	if (old != 0) {
		size = strtoull(argv[optind++], NULL, 10);
		if (optind >= argc)
			return 2;
	}
	if (read_leaves(argv + optind, argc - optind, &lv) == -1)
		return 1;
	if (old != 0)
		rc = prove_consistency(&lv, old, size);
	else
		rc = prove_inclusion(&lv, seq, cpfile, argv + optind,
		    argc - optind);
	leaves_free(&lv);
	return rc;
}
