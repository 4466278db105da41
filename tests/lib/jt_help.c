/*
 * The help texts of jbus and jbusd as data (see jt.h): the options their
 * option lines define and the subcommands 'jbus --help' lists, for the
 * tests that hold the man pages, the README and the shell completion to
 * them. Also the source tree's files, for those tests to read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jt.h"

/*
 * An option line: spaces, then "-x, --long" or "--long", then a value
 * ("--long VALUE", "--long[=VALUE]") or the description. Description lines
 * never start with '-'.
 */
static bool option_line(const char *line, size_t n, struct jt_opt *o)
{
	size_t i = 0, len;

	memset(o, 0, sizeof(*o));
	while (i < n && line[i] == ' ')
		i++;
	if (i == 0 || i >= n || line[i] != '-')
		return false;
	if (i + 4 <= n && line[i + 1] != '-' && line[i + 2] == ',' && line[i + 3] == ' ') {
		memcpy(o->s, line + i, 2);
		i += 4;
	}
	if (i + 2 >= n || line[i] != '-' || line[i + 1] != '-')
		return false;
	len = strspn(line + i + 2, "abcdefghijklmnopqrstuvwxyz0123456789-");
	if (len == 0 || len + 2 >= sizeof(o->l) || i + 2 + len > n)
		return false;
	memcpy(o->l, line + i, len + 2);
	i += len + 2;
	o->opt_arg = i + 1 < n && line[i] == '[' && line[i + 1] == '=';
	o->req_arg = i + 1 < n && line[i] == ' ' && line[i + 1] >= 'A' && line[i + 1] <= 'Z';
	return true;
}

size_t jt_help_options(const char *help, struct jt_opt *opts, size_t max)
{
	size_t n = 0;

	for (const char *p = help; *p;) {
		size_t len = strcspn(p, "\n");

		if (option_line(p, len, &opts[n])) {
			ck_assert_msg(n + 1 < max, "more than %zu options in the help", max);
			n++;
		}
		p += len + (p[len] == '\n');
	}
	return n;
}

bool jt_opts_have(const struct jt_opt *opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(opts[i].l, name) || (opts[i].s[0] && !strcmp(opts[i].s, name)))
			return true;
	return false;
}

size_t jt_help_subcommands(const char *help, char (*names)[32], size_t max)
{
	const char *p = strstr(help, "\nSubcommands:\n");
	size_t n = 0;

	ck_assert_msg(p != NULL, "no 'Subcommands:' in the help:\n%s", help);
	for (p += 14; *p && *p != '\n';) {
		size_t len = strcspn(p, "\n"), w;

		if (p[0] == ' ' && p[1] == ' ' && p[2] >= 'a' && p[2] <= 'z') {
			w = strcspn(p + 2, " \n");
			ck_assert_int_lt(w, 32);
			ck_assert_int_lt(n, max);
			memcpy(names[n], p + 2, w);
			names[n][w] = '\0';
			n++;
		}
		p += len + (p[len] == '\n');
	}
	ck_assert_msg(n > 0, "no subcommand in the help");
	return n;
}

const char *jt_srcdir(void)
{
	const char *s = getenv("JBUS_SRCDIR");

	return s && *s ? s : ".";
}

char *jt_read_src(const char *rel)
{
	char path[PATH_MAX];
	FILE *f;
	char *buf;
	long n;

	jt_fmt(path, sizeof(path), "%s/%s", jt_srcdir(), rel);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	ck_assert_int_ge(n, 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fread(buf, 1, (size_t)n, f), n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}
