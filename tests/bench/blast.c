/*
 * blast: a DNS load generator that saturates a core, for cordon's
 * benchmarks.  dnsperf on one core tops out near 130k queries a second
 * here; blast sends with sendmmsg and reads with recvmmsg on many
 * connected UDP sockets from one busy thread, so it can load a server
 * running on another core to 100%.
 *
 *   blast -s ADDR -p PORT -d FILE [-l SECONDS] [-Q RATE | -c OUTSTANDING]
 *         [-n SOCKETS] [-b BATCH] [-t TIMEOUT_MS] [-e] [-v]
 *
 * FILE is in dnsperf's format: "NAME TYPE" a line, '#' comments; the
 * queries are sent in file order, round and round.  -Q sends open-loop
 * at RATE queries a second; -c keeps OUTSTANDING queries in flight
 * (closed loop; the default, 500).  Answers are matched by socket (the
 * source port) and ID; a query not answered within TIMEOUT_MS (1000) is
 * lost.  -e adds an OPT record (payload 1232).  -v prints a line a
 * second.  The summary uses dnsperf's labels where they exist, so the
 * same parser reads both.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SOCKETS	1024
#define MAX_BATCH	256
#define MAX_QLEN	(12 + 255 + 4 + 11)
#define RING_MAX	(1u << 22)	/* queries remembered for timeouts */
#define NRCODES		16

/* Latency buckets: 1 us up to 1 ms, 10 us up to 10 ms, 1 ms up to 10 s. */
#define B1	1000
#define B2	900
#define B3	9990
#define NBUCKETS (B1 + B2 + B3 + 1)

struct query {
	uint8_t wire[MAX_QLEN];
	uint16_t len;
};

struct sock {
	int fd;
	uint16_t next_id;
	uint64_t *sent_ns;		/* per ID; 0: not outstanding */
};

struct pending {
	uint32_t key;			/* socket << 16 | id */
	uint64_t sent_ns;
};

struct counts {
	uint64_t sent, answered, lost, unexpected;
	uint64_t rcodes[NRCODES];
};

struct blast {
	struct sock *socks;
	unsigned nsocks;
	struct query *queries;
	size_t nqueries, next_query;
	unsigned batch;
	uint64_t timeout_ns;
	double rate;			/* > 0: open loop */
	uint64_t outstanding;		/* closed loop target */
	uint64_t inflight;
	struct pending *ring;
	size_t ring_size, ring_head, ring_len;
	struct counts total, second;
	uint64_t *hist;
	bool verbose;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr, "usage: blast -s ADDR -p PORT -d FILE [-l SECONDS] "
	    "[-Q RATE | -c OUTSTANDING]\n             [-n SOCKETS] "
	    "[-b BATCH] [-t TIMEOUT_MS] [-e] [-v]\n");
	exit(2);
}

static const struct {
	const char *name;
	uint16_t code;
} qtypes[] = {
	{ "A", 1 }, { "NS", 2 }, { "CNAME", 5 }, { "SOA", 6 }, { "PTR", 12 },
	{ "MX", 15 }, { "TXT", 16 }, { "AAAA", 28 }, { "SRV", 33 },
	{ "DS", 43 }, { "DNSKEY", 48 }, { "HTTPS", 65 }, { "ANY", 255 },
};

static int
qtype_code(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(qtypes) / sizeof(qtypes[0]); i++)
		if (strcasecmp(s, qtypes[i].name) == 0)
			return qtypes[i].code;
	if (strncasecmp(s, "TYPE", 4) == 0 && s[4] != '\0')
		return atoi(s + 4);
	return -1;
}

/* The query for name/type in q; -1 when the name is not a valid one. */
static int
build_query(struct query *q, const char *name, int qtype, bool edns)
{
	uint8_t *p = q->wire, *lab;
	size_t n = 12, len = strlen(name);
	size_t i;

	memset(p, 0, 12);
	p[2] = 0x01;			/* RD */
	p[5] = 1;			/* QDCOUNT */
	if (len > 0 && name[len - 1] == '.')
		len--;
	lab = p + n++;
	*lab = 0;
	for (i = 0; i < len; i++) {
		if (name[i] == '.') {
			if (*lab == 0 || n > 12 + 253)
				return -1;
			lab = p + n++;
			*lab = 0;
			continue;
		}
		if (*lab == 63)
			return -1;
		p[n++] = (uint8_t)name[i];
		(*lab)++;
	}
	if (len > 0 && *lab == 0)
		return -1;
	if (len > 0)
		p[n++] = 0;
	p[n++] = (uint8_t)(qtype >> 8);
	p[n++] = (uint8_t)qtype;
	p[n++] = 0;
	p[n++] = 1;			/* IN */
	if (edns) {
		static const uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0,
		    0, 0, 0, 0 };

		p[11] = 1;		/* ARCOUNT */
		memcpy(p + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	q->len = (uint16_t)n;
	return 0;
}

static void
read_queries(struct blast *b, const char *path, bool edns)
{
	FILE *f = fopen(path, "r");
	char line[1024], name[512], type[32];
	size_t cap = 0, lineno = 0;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		int qt;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (sscanf(line, "%511s %31s", name, type) != 2 ||
		    (qt = qtype_code(type)) < 0) {
			fprintf(stderr, "blast: %s:%zu: not NAME TYPE\n", path,
			    lineno);
			exit(1);
		}
		if (b->nqueries == cap) {
			cap = cap ? cap * 2 : 1024;
			b->queries = realloc(b->queries, cap *
			    sizeof(*b->queries));
			if (b->queries == NULL) {
				perror("blast");
				exit(1);
			}
		}
		if (build_query(&b->queries[b->nqueries], name, qt, edns)
		    == -1) {
			fprintf(stderr, "blast: %s:%zu: bad name\n", path,
			    lineno);
			exit(1);
		}
		b->nqueries++;
	}
	fclose(f);
	if (b->nqueries == 0) {
		fprintf(stderr, "blast: %s: no queries\n", path);
		exit(1);
	}
}

static void
open_sockets(struct blast *b, const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	unsigned i;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr)
	    == 1) {
		((struct sockaddr_in *)&ss)->sin_family = AF_INET;
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		sslen = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		sslen = sizeof(struct sockaddr_in6);
	} else {
		fprintf(stderr, "blast: %s: not an address\n", addr);
		exit(2);
	}
	b->socks = calloc(b->nsocks, sizeof(*b->socks));
	if (b->socks == NULL) {
		perror("blast");
		exit(1);
	}
	for (i = 0; i < b->nsocks; i++) {
		struct sock *s = &b->socks[i];
		int size = 4 << 20;

		s->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		if (s->fd == -1 || connect(s->fd, (struct sockaddr *)&ss,
		    sslen) == -1) {
			perror("blast: socket");
			exit(1);
		}
		(void)setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &size,
		    sizeof(size));
		(void)setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &size,
		    sizeof(size));
		s->sent_ns = calloc(65536, sizeof(*s->sent_ns));
		if (s->sent_ns == NULL) {
			perror("blast");
			exit(1);
		}
		s->next_id = (uint16_t)(i * 7919);
	}
}

static void
record_latency(struct blast *b, uint64_t ns)
{
	uint64_t us = ns / 1000;
	size_t k;

	if (us < B1)
		k = us;
	else if (us < 10000)
		k = B1 + (us - 1000) / 10;
	else if (us < 10000000)
		k = B1 + B2 + (us - 10000) / 1000;
	else
		k = NBUCKETS - 1;
	b->hist[k]++;
}

/* The upper edge, in microseconds, of bucket k. */
static uint64_t
bucket_us(size_t k)
{
	if (k < B1)
		return k + 1;
	if (k < B1 + B2)
		return 1000 + (k - B1 + 1) * 10;
	if (k < NBUCKETS - 1)
		return 10000 + (k - B1 - B2 + 1) * 1000;
	return 10000000;
}

static uint64_t
percentile(const struct blast *b, double p)
{
	uint64_t n = 0, want, seen = 0;
	size_t k;

	for (k = 0; k < NBUCKETS; k++)
		n += b->hist[k];
	if (n == 0)
		return 0;
	want = (uint64_t)(p * (double)n);
	if (want >= n)
		want = n - 1;
	for (k = 0; k < NBUCKETS; k++) {
		seen += b->hist[k];
		if (seen > want)
			return bucket_us(k);
	}
	return bucket_us(NBUCKETS - 1);
}

static void
lose(struct blast *b)
{
	b->total.lost++;
	b->second.lost++;
	b->inflight--;
}

/* Forgets the oldest remembered query, counting it lost if it was not
 * answered. */
static void
ring_pop(struct blast *b)
{
	struct pending *pe = &b->ring[b->ring_head];
	struct sock *s = &b->socks[pe->key >> 16];
	uint16_t id = (uint16_t)pe->key;

	if (s->sent_ns[id] == pe->sent_ns) {
		s->sent_ns[id] = 0;
		lose(b);
	}
	b->ring_head = (b->ring_head + 1) % b->ring_size;
	b->ring_len--;
}

static void
expire(struct blast *b, uint64_t now)
{
	while (b->ring_len > 0 &&
	    b->ring[b->ring_head].sent_ns + b->timeout_ns <= now)
		ring_pop(b);
}

/* Sends up to n queries on socket si; returns how many went. */
static unsigned
send_batch(struct blast *b, unsigned si, unsigned n, uint64_t now)
{
	struct sock *s = &b->socks[si];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	uint8_t bufs[MAX_BATCH][MAX_QLEN];
	uint16_t ids[MAX_BATCH];
	unsigned i;
	int sent;

	for (i = 0; i < n; i++) {
		const struct query *q = &b->queries[b->next_query];
		uint16_t id = s->next_id++;

		if (++b->next_query == b->nqueries)
			b->next_query = 0;
		if (s->sent_ns[id] != 0) {	/* wrapped onto a lost one */
			s->sent_ns[id] = 0;
			lose(b);
		}
		memcpy(bufs[i], q->wire, q->len);
		bufs[i][0] = (uint8_t)(id >> 8);
		bufs[i][1] = (uint8_t)id;
		ids[i] = id;
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = q->len;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	sent = sendmmsg(s->fd, msgs, n, 0);
	if (sent <= 0)
		return 0;
	for (i = 0; i < (unsigned)sent; i++) {
		if (b->ring_len == b->ring_size)
			ring_pop(b);
		s->sent_ns[ids[i]] = now;
		b->ring[(b->ring_head + b->ring_len) % b->ring_size] =
		    (struct pending){ si << 16 | ids[i], now };
		b->ring_len++;
	}
	b->inflight += (unsigned)sent;
	b->total.sent += (unsigned)sent;
	b->second.sent += (unsigned)sent;
	return (unsigned)sent;
}

/* Reads what socket si has; returns how many answers came. */
static unsigned
receive(struct blast *b, unsigned si)
{
	struct sock *s = &b->socks[si];
	struct mmsghdr msgs[MAX_BATCH];
	struct iovec iov[MAX_BATCH];
	static uint8_t bufs[MAX_BATCH][1500];
	unsigned i, got = 0;
	int n;
	uint64_t now;

	for (i = 0; i < b->batch; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	n = recvmmsg(s->fd, msgs, b->batch, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	now = now_ns();
	for (i = 0; i < (unsigned)n; i++) {
		const uint8_t *m = bufs[i];
		uint16_t id;

		if (msgs[i].msg_len < 12 || !(m[2] & 0x80)) {
			b->total.unexpected++;
			continue;
		}
		id = (uint16_t)(m[0] << 8 | m[1]);
		if (s->sent_ns[id] == 0) {
			b->total.unexpected++;
			continue;
		}
		record_latency(b, now - s->sent_ns[id]);
		s->sent_ns[id] = 0;
		b->inflight--;
		b->total.answered++;
		b->second.answered++;
		b->total.rcodes[m[3] & 0x0f]++;
		got++;
	}
	return got;
}

static const char *const rcode_names[NRCODES] = { "NOERROR", "FORMERR",
	"SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
	"NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13",
	"RCODE14", "RCODE15" };

static void
summary(const struct blast *b, double secs)
{
	unsigned i;

	printf("Statistics:\n\n");
	printf("  Queries sent:         %llu\n",
	    (unsigned long long)b->total.sent);
	printf("  Queries completed:    %llu (%.2f%%)\n",
	    (unsigned long long)b->total.answered, b->total.sent ?
	    100.0 * (double)b->total.answered / (double)b->total.sent : 0.0);
	printf("  Queries lost:         %llu (%.2f%%)\n",
	    (unsigned long long)b->total.lost, b->total.sent ?
	    100.0 * (double)b->total.lost / (double)b->total.sent : 0.0);
	printf("  Unexpected answers:   %llu\n",
	    (unsigned long long)b->total.unexpected);
	printf("\n  Response codes:       ");
	for (i = 0; i < NRCODES; i++)
		if (b->total.rcodes[i] > 0)
			printf("%s %llu (%.2f%%) ", rcode_names[i],
			    (unsigned long long)b->total.rcodes[i],
			    100.0 * (double)b->total.rcodes[i] /
			    (double)(b->total.answered ? b->total.answered : 1));
	printf("\n  Run time (s):         %.6f\n", secs);
	printf("  Queries per second:   %.6f\n",
	    secs > 0 ? (double)b->total.answered / secs : 0.0);
	printf("\n  Latency p50 (us):     %llu\n",
	    (unsigned long long)percentile(b, 0.50));
	printf("  Latency p99 (us):     %llu\n",
	    (unsigned long long)percentile(b, 0.99));
	printf("  Latency p999 (us):    %llu\n",
	    (unsigned long long)percentile(b, 0.999));
}

int
main(int argc, char **argv)
{
	struct blast b;
	const char *addr = "127.0.0.1", *file = NULL;
	int port = 53, ch;
	double seconds = 10;
	bool edns = false;
	uint64_t start, end, next_report, now, stop_sending;
	unsigned si = 0;

	memset(&b, 0, sizeof(b));
	b.nsocks = 64;
	b.batch = 32;
	b.timeout_ns = 1000000000u;
	b.outstanding = 500;
	while ((ch = getopt(argc, argv, "s:p:d:l:Q:c:n:b:t:ev")) != -1) {
		switch (ch) {
		case 's': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 'd': file = optarg; break;
		case 'l': seconds = atof(optarg); break;
		case 'Q': b.rate = atof(optarg); break;
		case 'c': b.outstanding = strtoull(optarg, NULL, 10); break;
		case 'n': b.nsocks = (unsigned)atoi(optarg); break;
		case 'b': b.batch = (unsigned)atoi(optarg); break;
		case 't': b.timeout_ns = strtoull(optarg, NULL, 10) *
		    1000000u; break;
		case 'e': edns = true; break;
		case 'v': b.verbose = true; break;
		default: usage();
		}
	}
	if (file == NULL || port <= 0 || port > 65535 || seconds <= 0 ||
	    b.nsocks == 0 || b.nsocks > MAX_SOCKETS || b.batch == 0 ||
	    b.batch > MAX_BATCH || b.timeout_ns == 0 || b.outstanding == 0)
		usage();
	read_queries(&b, file, edns);
	open_sockets(&b, addr, port);
	b.ring_size = RING_MAX;
	b.ring = calloc(b.ring_size, sizeof(*b.ring));
	b.hist = calloc(NBUCKETS, sizeof(*b.hist));
	if (b.ring == NULL || b.hist == NULL) {
		perror("blast");
		return 1;
	}
	start = now_ns();
	stop_sending = start + (uint64_t)(seconds * 1e9);
	next_report = start + 1000000000u;
	for (;;) {
		unsigned want = 0, k;

		now = now_ns();
		if (now < stop_sending) {
			if (b.rate > 0) {
				double due = b.rate * (double)(now - start) /
				    1e9;

				if (due > (double)b.total.sent)
					want = (unsigned)(due -
					    (double)b.total.sent);
			} else if (b.inflight < b.outstanding)
				want = (unsigned)(b.outstanding - b.inflight);
		} else if (b.inflight == 0 ||
		    now >= stop_sending + b.timeout_ns)
			break;
		/* a batch on each socket in turn */
		for (k = 0; want > 0 && k < b.nsocks; k++) {
			unsigned n = want < b.batch ? want : b.batch;
			unsigned sent = send_batch(&b, si, n, now);

			want -= sent;
			si = (si + 1) % b.nsocks;
			if (sent < n)
				break;		/* socket buffer full */
		}
		for (k = 0; k < b.nsocks; k++)
			while (receive(&b, k) == b.batch)
				;
		expire(&b, now);
		if (now >= next_report) {
			if (b.verbose)
				fprintf(stderr, "blast: %.0fs sent %llu answered "
				    "%llu lost %llu\n", (double)(now - start) /
				    1e9, (unsigned long long)b.second.sent,
				    (unsigned long long)b.second.answered,
				    (unsigned long long)b.second.lost);
			memset(&b.second, 0, sizeof(b.second));
			next_report += 1000000000u;
		}
	}
	end = now_ns();
	/* whatever is still out is lost */
	while (b.ring_len > 0)
		ring_pop(&b);
	summary(&b, (double)((end < stop_sending ? end : stop_sending) -
	    start) / 1e9);
	return 0;
}
