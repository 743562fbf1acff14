/*
 * note: Ed25519 through OpenSSL's EVP; base64 with EVP_EncodeBlock.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "audit/note.h"

#define ALG_ED25519 1
#define NAME_MAX_LEN 255
#define EM_DASH "\xe2\x80\x94 "

struct note_key {
	EVP_PKEY *pkey;
	char name[NAME_MAX_LEN + 1];
	uint8_t pub[32];
	uint32_t id;
};

struct note_verifier {
	EVP_PKEY *pkey;
	char name[NAME_MAX_LEN + 1];
	uint32_t id;
};

static bool
name_ok(const char *name)
{
	size_t n = strlen(name);
	const unsigned char *p;

	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p <= ' ' || *p == '+' || *p == 0x7f)
			return false;
	return true;
}

static uint32_t
key_id(const char *name, const uint8_t pub[32])
{
	uint8_t buf[NAME_MAX_LEN + 2 + 32], sum[SHA256_DIGEST_LENGTH];
	size_t n = strlen(name);

	memcpy(buf, name, n);
	buf[n] = '\n';
	buf[n + 1] = ALG_ED25519;
	memcpy(buf + n + 2, pub, 32);
	SHA256(buf, n + 2 + 32, sum);
	return (uint32_t)sum[0] << 24 | (uint32_t)sum[1] << 16 |
	    (uint32_t)sum[2] << 8 | sum[3];
}

static struct note_key *
key_from(EVP_PKEY *pkey, const char *name)
{
	struct note_key *k;
	size_t len = 32;

	if (pkey == NULL || !name_ok(name) ||
	    EVP_PKEY_id(pkey) != EVP_PKEY_ED25519 ||
	    (k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, k->pub, &len) != 1 ||
	    len != 32) {
		EVP_PKEY_free(pkey);
		free(k);
		return NULL;
	}
	k->pkey = pkey;
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->id = key_id(name, k->pub);
	return k;
}

struct note_key *
note_key_generate(const char *name)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	EVP_PKEY *pkey = NULL;

	if (c == NULL || EVP_PKEY_keygen_init(c) != 1 ||
	    EVP_PKEY_keygen(c, &pkey) != 1)
		pkey = NULL;
	EVP_PKEY_CTX_free(c);
	return key_from(pkey, name);
}

struct note_key *
note_key_load(const char *path, const char *name, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pkey;
	struct note_key *k;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (pkey == NULL || EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
		EVP_PKEY_free(pkey);
		snprintf(err, errlen, "%s: not an Ed25519 private key in PEM",
		    path);
		return NULL;
	}
	if ((k = key_from(pkey, name)) == NULL)
		snprintf(err, errlen, "%s: cannot use the key as \"%s\" (a "
		    "name has no spaces or '+')", path, name);
	return k;
}

int
note_key_save(const struct note_key *k, const char *path, char *err,
    size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	FILE *f;

	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (PEM_write_PrivateKey(f, k->pkey, NULL, NULL, 0, NULL, NULL) != 1 ||
	    fclose(f) != 0) {
		snprintf(err, errlen, "%s: cannot write the key", path);
		return -1;
	}
	return 0;
}

void
note_key_free(struct note_key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

size_t
note_vkey(const struct note_key *k, char *buf, size_t size)
{
	uint8_t raw[33];
	char b64[64];
	int n;

	raw[0] = ALG_ED25519;
	memcpy(raw + 1, k->pub, 32);
	EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	n = snprintf(buf, size, "%s+%08" PRIx32 "+%s", k->name, k->id, b64);
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

static bool
ed25519(EVP_PKEY *pkey, bool sign, const char *msg, size_t len,
    uint8_t sig[64])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t siglen = 64;
	bool ok;

	if (sign)
		ok = c != NULL && EVP_DigestSignInit(c, NULL, NULL, NULL,
		    pkey) == 1 && EVP_DigestSign(c, sig, &siglen,
		    (const uint8_t *)msg, len) == 1 && siglen == 64;
	else
		ok = c != NULL && EVP_DigestVerifyInit(c, NULL, NULL, NULL,
		    pkey) == 1 && EVP_DigestVerify(c, sig, 64,
		    (const uint8_t *)msg, len) == 1;
	EVP_MD_CTX_free(c);
	return ok;
}

char *
note_sign(const struct note_key *k, const char *text)
{
	size_t n = strlen(text);
	uint8_t raw[68];
	char b64[128], *out;

	if (n == 0 || text[n - 1] != '\n' || strstr(text, "\n\n") != NULL)
		return NULL;
	raw[0] = (uint8_t)(k->id >> 24);
	raw[1] = (uint8_t)(k->id >> 16);
	raw[2] = (uint8_t)(k->id >> 8);
	raw[3] = (uint8_t)k->id;
	if (!ed25519(k->pkey, true, text, n, raw + 4))
		return NULL;
	EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw));
	if (asprintf(&out, "%s\n" EM_DASH "%s %s\n", text, k->name, b64) < 0)
		return NULL;
	return out;
}

/* Decodes base64 text of len characters into out (at most cap bytes);
 * returns the length, or -1. */
static int
unbase64(const char *text, size_t len, uint8_t *out, size_t cap)
{
	uint8_t buf[256];
	int n, pad = 0;

	if (len == 0 || len % 4 != 0 || len / 4 * 3 > sizeof(buf))
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len);
	if (n < 0)
		return -1;
	if (text[len - 1] == '=')
		pad++;
	if (text[len - 2] == '=')
		pad++;
	n -= pad;
	if ((size_t)n > cap)
		return -1;
	memcpy(out, buf, (size_t)n);
	return n;
}

struct note_verifier *
note_verifier_parse(const char *vkey, const char **why)
{
	const char *plus1 = strchr(vkey, '+'), *plus2;
	struct note_verifier *v;
	uint8_t raw[33];
	char name[NAME_MAX_LEN + 1], *end;
	unsigned long id;
	size_t n;

	*why = "not a verifier key (NAME+KEYID+BASE64)";
	if (plus1 == NULL || (plus2 = strchr(plus1 + 1, '+')) == NULL ||
	    plus2 - plus1 != 9 || (size_t)(plus1 - vkey) > NAME_MAX_LEN)
		return NULL;
	n = (size_t)(plus1 - vkey);
	memcpy(name, vkey, n);
	name[n] = '\0';
	id = strtoul(plus1 + 1, &end, 16);
	n = strcspn(plus2 + 1, "\r\n");
	if (end != plus2 || !name_ok(name) ||
	    unbase64(plus2 + 1, n, raw, sizeof(raw)) != 33 ||
	    raw[0] != ALG_ED25519)
		return NULL;
	if (key_id(name, raw + 1) != id) {
		*why = "the verifier key's id does not match its key";
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		*why = "out of memory";
		return NULL;
	}
	v->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, raw + 1,
	    32);
	if (v->pkey == NULL) {
		free(v);
		*why = "not an Ed25519 key";
		return NULL;
	}
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->id = (uint32_t)id;
	return v;
}

void
note_verifier_free(struct note_verifier *v)
{
	if (v == NULL)
		return;
	EVP_PKEY_free(v->pkey);
	free(v);
}

int
note_open(const struct note_verifier *v, const char *msg, size_t len,
    size_t *text_len, const char **why)
{
	const char *sep = NULL, *p, *end = msg + len;
	size_t i, nl, dash = strlen(EM_DASH), namelen = strlen(v->name);

	/* the text ends at the last "\n\n": signatures never hold one */
	for (i = 0; i + 1 < len; i++)
		if (msg[i] == '\n' && msg[i + 1] == '\n')
			sep = msg + i;
	if (sep == NULL || len == 0 || msg[len - 1] != '\n') {
		*why = "not a signed note";
		return -1;
	}
	*text_len = (size_t)(sep - msg) + 1;
	for (p = sep + 2; p < end; p += nl + 1) {
		uint8_t raw[68];
		const char *b64;
		uint32_t id;

		nl = (size_t)((const char *)memchr(p, '\n', (size_t)(end - p)) -
		    p);
		if (nl < dash + namelen + 2 || memcmp(p, EM_DASH, dash) != 0 ||
		    memcmp(p + dash, v->name, namelen) != 0 ||
		    p[dash + namelen] != ' ')
			continue;
		b64 = p + dash + namelen + 1;
		if (unbase64(b64, (size_t)(p + nl - b64), raw, sizeof(raw)) !=
		    68)
			continue;
		id = (uint32_t)raw[0] << 24 | (uint32_t)raw[1] << 16 |
		    (uint32_t)raw[2] << 8 | raw[3];
		if (id != v->id)
			continue;
		if (ed25519(v->pkey, false, msg, *text_len, raw + 4))
			return 0;
		*why = "the signature does not verify";
		return -1;
	}
	*why = "no signature by this key";
	return -1;
}

size_t
note_checkpoint_text(const char *origin, uint64_t size,
    const uint8_t root[32], char *buf, size_t bufsize)
{
	char b64[64];
	int n;

	EVP_EncodeBlock((unsigned char *)b64, root, 32);
	n = snprintf(buf, bufsize, "%s\n%" PRIu64 "\n%s\n", origin, size, b64);
	return n > 0 && (size_t)n < bufsize ? (size_t)n : 0;
}

int
note_checkpoint_parse(const char *text, size_t len, char *origin,
    size_t originsize, uint64_t *size, uint8_t root[32])
{
	const char *l1 = memchr(text, '\n', len), *l2, *l3, *end = text + len;
	char num[24], *e;

	if (l1 == NULL || (size_t)(l1 - text) >= originsize || l1 == text ||
	    (l2 = memchr(l1 + 1, '\n', (size_t)(end - l1 - 1))) == NULL ||
	    (l3 = memchr(l2 + 1, '\n', (size_t)(end - l2 - 1))) == NULL ||
	    (size_t)(l2 - l1 - 1) >= sizeof(num) || l2 == l1 + 1)
		return -1;
	memcpy(origin, text, (size_t)(l1 - text));
	origin[l1 - text] = '\0';
	memcpy(num, l1 + 1, (size_t)(l2 - l1 - 1));
	num[l2 - l1 - 1] = '\0';
	if (num[0] < '0' || num[0] > '9' || (num[0] == '0' && num[1] != '\0'))
		return -1;
	errno = 0;
	*size = strtoull(num, &e, 10);
	if (*e != '\0' || errno != 0)
		return -1;
	return unbase64(l2 + 1, (size_t)(l3 - l2 - 1), root, 32) == 32 ? 0 :
	    -1;
}
