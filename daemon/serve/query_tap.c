/*
 * query_tap: what a worker hands to dnstap ([log] dnstap): each client
 * query and answer, and with [log] dnstap_forwarder each upstream query
 * and accepted answer.  Encoding and queueing only; dnstap's thread
 * writes (serve/dnstap.h).
 */
#include <time.h>

#include "base/netaddr.h"
#include "serve/dnstap.h"
#include "serve/query_impl.h"

void
query_tap_client(struct query_env *env, const struct client *c,
    const uint8_t *query, size_t qlen, const uint8_t *resp, size_t rlen)
{
	struct dnstap_msg m = { 0 };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	m.type = resp == NULL ? DNSTAP_CLIENT_QUERY : DNSTAP_CLIENT_RESPONSE;
	m.is_tcp = c->is_tcp;
	m.query_addr = (const struct sockaddr *)&c->addr;
	m.query = query;
	m.query_len = qlen;
	m.response = resp;
	m.response_len = rlen;
	if (resp == NULL)
		m.query_time = now;
	else
		m.response_time = now;
	(void)dnstap_send(env->tap, &m);
}

void
query_tap_forward(void *ctx, bool is_response, bool is_tcp,
    const struct netaddr *server, const uint8_t *msg, size_t len)
{
	struct query_env *env = ctx;
	struct dnstap_msg m = { 0 };
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	m.type = is_response ? DNSTAP_FORWARDER_RESPONSE :
	    DNSTAP_FORWARDER_QUERY;
	m.is_tcp = is_tcp;
	m.response_addr = (const struct sockaddr *)&server->ss;
	if (is_response) {
		m.response = msg;
		m.response_len = len;
		m.response_time = now;
	} else {
		m.query = msg;
		m.query_len = len;
		m.query_time = now;
	}
	(void)dnstap_send(env->tap, &m);
}
