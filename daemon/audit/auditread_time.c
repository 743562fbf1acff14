/*
 * auditread_time: RFC 3339 timestamps and dates as ms since the epoch
 * (auditread_parse_time() in auditread.h), for the ts member and for
 * the --since and --until of cordon audit.
 */
#include "audit/auditread.h"

#include <stddef.h>

/* Reads exactly n digits. */
static int
digits(const char *s, size_t n, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

/* Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm,
 * the inverse of civil_from_days() in audit.c). */
static int64_t
days_from_civil(unsigned y, unsigned m, unsigned d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = yy / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static bool
is_valid_date(unsigned y, unsigned m, unsigned d)
{
	static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31,
	    30, 31, 30, 31 };
	bool is_leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return m != 2 || d < 29 || is_leap;
}

/* The part after the date: "Thh:mm:ss[.frac](Z|+hh:mm)", seconds and
 * ms since midnight, offset applied. */
static int
parse_clock(const char *s, size_t len, int64_t *secs, unsigned *ms)
{
	unsigned h, mi, sec, oh, om, scale = 100;
	size_t i = 9;

	*ms = 0;
	if (len < 10 || (s[0] != 'T' && s[0] != 't' && s[0] != ' ') ||
	    digits(s + 1, 2, &h) || s[3] != ':' || digits(s + 4, 2, &mi) ||
	    s[6] != ':' || digits(s + 7, 2, &sec) || h > 23 || mi > 59 ||
	    sec > 60)
		return -1;
	*secs = (int64_t)h * 3600 + mi * 60 + (sec == 60 ? 59 : sec);
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			*ms += (unsigned)(s[i] - '0') * scale;
			scale /= 10;
		}
		if (s[i - 1] == '.')
			return -1;
	}
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z'))
		return 0;
	if (i + 6 != len || (s[i] != '+' && s[i] != '-') ||
	    digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
	    digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
		return -1;
	*secs -= (s[i] == '+' ? 1 : -1) * ((int64_t)oh * 3600 + om * 60);
	return 0;
}

int
auditread_parse_time(const char *s, size_t len, uint64_t *ms,
    bool *is_date)
{
	unsigned y, mo, d, frac = 0;
	int64_t secs = 0;

	if (len < 10 || digits(s, 4, &y) || s[4] != '-' ||
	    digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
	    y < 1970 || !is_valid_date(y, mo, d))
		return -1;
	*is_date = len == 10;
	if (len > 10 && parse_clock(s + 10, len - 10, &secs, &frac) == -1)
		return -1;
	secs += days_from_civil(y, mo, d) * 86400;
	if (secs < 0)
		return -1;
	*ms = (uint64_t)secs * 1000 + frac;
	return 0;
}
