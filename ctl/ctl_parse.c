/*
 * ctl_parse.c - strict parsing of ipcctl's numeric arguments (see ctl_parse.h).
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "ctl_parse.h"

/*
 * strtoull accepts leading blanks and a minus sign (wrapping the result);
 * insist on a digit first so that neither slips through.  *end is where
 * the digits stopped.
 */
static int parse_digits(const char *s, int base, uint64_t *out, char **end)
{
	unsigned long long v;

	if (!isdigit((unsigned char)s[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, end, base);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end == s)
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl_parse_u64(const char *s, uint64_t *out)
{
	uint64_t v;
	char *end;
	int r = parse_digits(s, 10, &v, &end);

	if (r < 0)
		return r;
	if (*end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

int ctl_parse_size(const char *s, uint64_t *out)
{
	uint64_t v, mult = 1;
	char *end;
	int r = parse_digits(s, 10, &v, &end);

	if (r < 0)
		return r;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	}
	if (mult > 1 && (*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B'))
		end++;
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

int ctl_parse_mode(const char *s, unsigned *out)
{
	uint64_t v;
	char *end;
	int r = parse_digits(s, 8, &v, &end);

	if (r < 0)
		return r;
	if (*end != '\0')
		return -EINVAL;
	if (v > 07777)
		return -ERANGE;
	*out = (unsigned)v;
	return 0;
}

int ctl_parse_timeout(const char *s, int *out)
{
	uint64_t v;
	int r;

	if (s[0] == '-' && s[1] == '1' && s[2] == '\0') {
		*out = -1;
		return 0;
	}
	r = ctl_parse_u64(s, &v);
	if (r < 0)
		return r;
	if (v > INT_MAX)
		return -ERANGE;
	*out = (int)v;
	return 0;
}

int ctl_parse_seconds(const char *s, int *out)
{
	uint64_t whole, ms = 0, scale = 100;
	char *end;
	int r = parse_digits(s, 10, &whole, &end);

	if (r < 0)
		return r;
	if (*end == '.') {
		/* One to three decimals: no "1." and no sub-millisecond digits. */
		if (end[1] < '0' || end[1] > '9')
			return -EINVAL;
		for (end++; *end >= '0' && *end <= '9'; end++, scale /= 10) {
			if (scale == 0)
				return -EINVAL;
			ms += (uint64_t)(*end - '0') * scale;
		}
	}
	if (*end != '\0')
		return -EINVAL;
	if (whole > 86400 || whole * 1000 + ms > 86400000 || whole * 1000 + ms < 100)
		return -ERANGE;
	*out = (int)(whole * 1000 + ms);
	return 0;
}
