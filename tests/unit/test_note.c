/*
 * note: signed notes and checkpoints as Go's golang.org/x/mod/sumdb/note
 * makes them (the vector below was signed by Go from the Ed25519 seed
 * 00 01 .. 1f), and cordon's own round trip.
 */
#include <stdlib.h>

#include "unit.h"
#include "audit/note.h"

static const char go_vkey[] =
    "cordon/test+8cc9239e+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4";
static const char go_note[] =
    "cordon/test\n3\nq/w5t2D84e2JCeAJR8hO5H6OjgOKbMWFfDrQy/GDabk=\n\n"
    "\xe2\x80\x94 cordon/test jMkjnoHedH8/38EOnL2b73WdyAgiv7H+oAlGzKRohHNTWki5"
    "NqfHyhoOsFZzRJqDL/i9ei3hxQ4aZG2M+QgHD3K45w4=\n";

static void
test_go_vector(void)
{
	const char *why = NULL;
	struct note_verifier *v = note_verifier_parse(go_vkey, &why);
	char origin[64], *bad;
	uint8_t root[32];
	uint64_t size = 0;
	size_t tl = 0;

	CHECK(v != NULL, "Go's verifier key: %s", why ? why : "");
	if (v == NULL)
		return;
	CHECK(note_open(v, go_note, strlen(go_note), &tl, &why) == 0,
	    "Go's note: %s", why);
	CHECK(tl == 59, "text length %zu", tl);
	CHECK(note_checkpoint_parse(go_note, tl, origin, sizeof(origin),
	    &size, root) == 0 && strcmp(origin, "cordon/test") == 0 &&
	    size == 3 && root[0] == 0xab, "checkpoint %s %llu", origin,
	    (unsigned long long)size);
	bad = strdup(go_note);
	bad[12] = '4';			/* size 3 -> 4 */
	CHECK(note_open(v, bad, strlen(bad), &tl, &why) == -1,
	    "an altered text verified");
	free(bad);
	CHECK(note_verifier_parse("cordon/test+8cc9239f+AQOhB7/zzhC+HXDdGOdLwJln"
	    "5NYwm6UNXx3chmQSVTG4", &why) == NULL, "a wrong key id accepted");
	note_verifier_free(v);
}

static void
test_round_trip(void)
{
	struct note_key *k = note_key_generate("cordon/host.example");
	struct note_verifier *v, *other;
	struct note_key *k2 = note_key_generate("cordon/host.example");
	char vkey[256], vkey2[256], text[256], *msg;
	const char *why;
	uint8_t root[32] = { 1, 2, 3 }, back[32];
	char origin[64];
	uint64_t size;
	size_t tl, n;

	CHECK(k != NULL && k2 != NULL, "keys");
	if (k == NULL || k2 == NULL)
		return;
	CHECK(note_vkey(k, vkey, sizeof(vkey)) > 0 &&
	    strncmp(vkey, "cordon/host.example+", 20) == 0, "vkey %s", vkey);
	note_vkey(k2, vkey2, sizeof(vkey2));
	n = note_checkpoint_text("cordon/host.example", 1234567, root, text,
	    sizeof(text));
	CHECK(n > 0, "checkpoint text");
	msg = note_sign(k, text);
	CHECK(msg != NULL, "signed");
	v = note_verifier_parse(vkey, &why);
	other = note_verifier_parse(vkey2, &why);
	CHECK(v != NULL && other != NULL, "verifiers");
	if (msg != NULL && v != NULL && other != NULL) {
		CHECK(note_open(v, msg, strlen(msg), &tl, &why) == 0 &&
		    tl == n, "own note: %s", why);
		CHECK(note_checkpoint_parse(msg, tl, origin, sizeof(origin),
		    &size, back) == 0 && size == 1234567 &&
		    memcmp(back, root, 32) == 0, "checkpoint back");
		CHECK(note_open(other, msg, strlen(msg), &tl, &why) == -1,
		    "another key's verifier accepted the note");
	}
	CHECK(note_sign(k, "no newline") == NULL, "text without newline");
	CHECK(note_key_generate("has space") == NULL, "a name with a space");
	free(msg);
	note_verifier_free(v);
	note_verifier_free(other);
	note_key_free(k);
	note_key_free(k2);
}

int
main(void)
{
	test_go_vector();
	test_round_trip();
	return unit_exit();
}
