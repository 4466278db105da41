/*
 * What jbus bench reports: the medians of a workload's runs, the results
 * table, the JSON document (its keys are documented in docs/performance.md
 * and stay stable: every result carries every key, null where it does not
 * apply), a plain SVG chart, and the progress line on a terminal.
 *
 * Losses and ordering errors are summed over the runs rather than taken
 * as a median: one lost message in any run is a loss.
 */
#include "bench.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Which figures a workload has: the others are "-" in the table and null in JSON. */
enum {
	HAS_MSGS = 1 << 0,    /* messages, delivered, lost, errors */
	HAS_RATE = 1 << 1,    /* msgs/s, deliveries/s */
	HAS_LATENCY = 1 << 2, /* percentiles */
	HAS_MEMORY = 1 << 3,  /* server RSS before and after */
	HAS_CYCLES = 1 << 4,
	HAS_ELAPSED = 1 << 5,
};

static const unsigned has[BENCH_NWORK] = {
	[BENCH_W1] = HAS_MSGS | HAS_RATE | HAS_ELAPSED,
	[BENCH_W2] = HAS_MSGS | HAS_RATE | HAS_ELAPSED,
	[BENCH_W3] = HAS_MSGS | HAS_LATENCY | HAS_ELAPSED,
	[BENCH_W4] = HAS_MEMORY,
	[BENCH_W5] = HAS_MSGS | HAS_RATE | HAS_ELAPSED,
	[BENCH_W6] = HAS_MEMORY | HAS_CYCLES | HAS_ELAPSED,
};

/* The percentiles reported (the fields p50..pmax of struct bench_summary, in order). */
static const double pcts[] = { 50, 90, 99, 99.9, 100 };

/* section: medians */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define MEDIAN(field)                                                                              \
	do {                                                                                       \
		for (unsigned i_ = 0; i_ < n; i_++)                                                \
			v[i_] = (double)r[i_].field;                                               \
		s->med.field = (__typeof__(s->med.field))median(v, n);                             \
	} while (0)

int bench_summarize(const struct bench_result *r, unsigned n, struct bench_summary *s)
{
	uint64_t *const pv[] = { &s->p50, &s->p90, &s->p99, &s->p999, &s->pmax };
	double *v;

	memset(s, 0, sizeof(*s));
	v = malloc(n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->w = r[0].w;
	s->runs = n;
	s->ok = true;
	s->med.w = r[0].w;
	for (unsigned i = 0; i < n; i++) {
		if (!r[i].ok && s->ok) {
			s->ok = false;
			snprintf(s->err, sizeof(s->err), "%s", r[i].err);
		}
		s->med.lost += r[i].lost;
		s->med.errors += r[i].errors;
		s->med.nper = r[i].nper;
		for (unsigned j = 0; j < r[i].nper; j++)
			s->med.lost_per[j] += r[i].lost_per[j];
	}
	MEDIAN(messages);
	MEDIAN(delivered);
	MEDIAN(elapsed_s);
	MEDIAN(msgs_per_s);
	MEDIAN(deliveries_per_s);
	MEDIAN(rss_before_kib);
	MEDIAN(rss_after_kib);
	MEDIAN(bytes_per_client);
	MEDIAN(cycles);
	MEDIAN(cycles_per_s);
	if (s->w != BENCH_W3)
		goto out;
	s->hist = malloc(sizeof(*s->hist));
	if (!s->hist) {
		free(v);
		return -ENOMEM;
	}
	bench_hist_init(s->hist);
	for (unsigned k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
		unsigned m = 0;

		for (unsigned i = 0; i < n; i++)
			if (r[i].hist && r[i].hist->count)
				v[m++] = (double)bench_hist_percentile(r[i].hist, pcts[k]);
		*pv[k] = m ? (uint64_t)median(v, m) : 0;
	}
	for (unsigned i = 0; i < n; i++)
		if (r[i].hist)
			bench_hist_merge(s->hist, r[i].hist);
out:
	free(v);
	return 0;
}

void bench_summary_free(struct bench_summary *s)
{
	free(s->hist);
	s->hist = NULL;
}

/* section: the table */

/* v with thousands separators ("1,234,567"), into buf. */
static const char *thousands(char *buf, size_t cap, double v)
{
	char raw[32];
	size_t n, k = 0;

	snprintf(raw, sizeof(raw), "%.0f", v < 0 ? -v : v);
	n = strlen(raw);
	if (v < 0 && k + 1 < cap)
		buf[k++] = '-';
	for (size_t i = 0; i < n && k + 2 < cap; i++) {
		if (i && (n - i) % 3 == 0)
			buf[k++] = ',';
		buf[k++] = raw[i];
	}
	buf[k] = '\0';
	return buf;
}

/* "W2 1 pub -> 8 subs": the workload with the counts of this run. */
static const char *setup(char *buf, size_t cap, const struct bench_opts *p,
			 enum bench_workload w)
{
	switch (w) {
	case BENCH_W2:
		snprintf(buf, cap, "W2 1 pub -> %u sub%s", p->subscribers,
			 p->subscribers == 1 ? "" : "s");
		break;
	case BENCH_W4:
		snprintf(buf, cap, "W4 %u idle clients", p->clients);
		break;
	case BENCH_W5:
		snprintf(buf, cap, "W5 %u pub%s -> 1 sub", p->publishers,
			 p->publishers == 1 ? "" : "s");
		break;
	default:
		snprintf(buf, cap, "%s %s", bench_work_name(w), bench_work_title(w));
		break;
	}
	return buf;
}

/* The per-client losses "0,0,3" when any, else "" (W2: per subscriber, W5: per publisher). */
static void lost_per(char *buf, size_t cap, const struct bench_result *m)
{
	size_t k = 0;

	buf[0] = '\0';
	if (!m->lost)
		return;
	k = (size_t)snprintf(buf, cap, "lost per %s: ",
			     m->w == BENCH_W2 ? "subscriber" : "publisher");
	for (unsigned i = 0; i < m->nper && k < cap; i++)
		k += (size_t)snprintf(buf + k, cap - k, "%s%llu", i ? "," : "",
				      (unsigned long long)m->lost_per[i]);
}

static void note(char *buf, size_t cap, const struct bench_summary *s,
		 const struct bench_opts *p)
{
	const struct bench_result *m = &s->med;
	char a[32], b[32];

	buf[0] = '\0';
	if (!s->ok) {
		snprintf(buf, cap, "%s", s->err);
		return;
	}
	switch (s->w) {
	case BENCH_W2:
	case BENCH_W5:
		lost_per(buf, cap, m);
		break;
	case BENCH_W3:
		snprintf(buf, cap, "p90 %.1f, p99.9 %.1f, max %.1f us%s", (double)s->p90 / 1000,
			 (double)s->p999 / 1000, (double)s->pmax / 1000,
			 p->cpu >= 0 ? ", one CPU" : "");
		break;
	case BENCH_W4:
		snprintf(buf, cap, "server RSS %s -> %s KiB", thousands(a, sizeof(a),
			 (double)m->rss_before_kib), thousands(b, sizeof(b),
			 (double)m->rss_after_kib));
		break;
	case BENCH_W6:
		snprintf(buf, cap, "%s cycles/s, server RSS %+ld KiB",
			 thousands(a, sizeof(a), m->cycles_per_s),
			 m->rss_after_kib - m->rss_before_kib);
		break;
	default:
		break;
	}
}

#define TABLE_ROW "%-22s %11s %11s %13s %6s %8s %8s %9s  %-*s%s\n"

int bench_print_table(FILE *f, const struct bench_report *rep)
{
	const struct bench_opts *p = rep->p;
	char w[64], c[7][32], nt[512];

	fprintf(f, "jbus bench: %s at %s%s, payload %zu bytes, %s%u run%s\n", rep->driver,
		rep->target, rep->spawned ? " (spawned)" : "", p->size,
		rep->repeat > 1 ? "medians of " : "", rep->repeat, rep->repeat == 1 ? "" : "s");
	fprintf(f, TABLE_ROW, "WORKLOAD", "MESSAGES", "MSGS/S", "DELIVERIES/S", "LOST", "P50 US",
		"P99 US", "B/CLIENT", 7, "RESULT", "NOTE");
	for (unsigned i = 0; i < rep->n; i++) {
		const struct bench_summary *s = &rep->s[i];
		const struct bench_result *m = &s->med;
		unsigned h = has[s->w];

		for (unsigned k = 0; k < 7; k++)
			strcpy(c[k], "-");
		if (h & HAS_MSGS) {
			thousands(c[0], sizeof(c[0]), (double)m->messages);
			thousands(c[3], sizeof(c[3]), (double)m->lost);
		}
		if (h & HAS_CYCLES)
			thousands(c[0], sizeof(c[0]), (double)m->cycles);
		if (h & HAS_RATE) {
			thousands(c[1], sizeof(c[1]), m->msgs_per_s);
			thousands(c[2], sizeof(c[2]), m->deliveries_per_s);
		}
		if (h & HAS_LATENCY) {
			snprintf(c[4], sizeof(c[4]), "%.1f", (double)s->p50 / 1000);
			snprintf(c[5], sizeof(c[5]), "%.1f", (double)s->p99 / 1000);
		}
		if (s->w == BENCH_W4)
			thousands(c[6], sizeof(c[6]), m->bytes_per_client);
		note(nt, sizeof(nt), s, p);
		fprintf(f, TABLE_ROW, setup(w, sizeof(w), p, s->w), c[0], c[1], c[2], c[3], c[4],
			c[5], c[6], *nt ? 7 : 0, s->ok ? "ok" : m->lost ? "LOSS" : "FAIL", nt);
	}
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* section: JSON */

static void json_num(FILE *f, const char *key, bool applies, double v, int decimals)
{
	if (applies)
		fprintf(f, ",\"%s\":%.*f", key, decimals, v);
	else
		fprintf(f, ",\"%s\":null", key);
}

/* s as a JSON string (cli_json_string escapes it); "null" when out of memory. */
static void json_str(FILE *f, const char *s)
{
	char *j = cli_json_string(s, strlen(s));

	fputs(j ? j : "null", f);
	free(j);
}

static void json_result(FILE *f, const struct bench_report *rep, const struct bench_summary *s)
{
	const struct bench_result *m = &s->med;
	unsigned h = has[s->w];
	char w[64];

	fprintf(f, "{\"workload\":\"%s\",\"title\":", bench_work_name(s->w));
	json_str(f, setup(w, sizeof(w), rep->p, s->w) + 3);
	fprintf(f, ",\"runs\":%u,\"ok\":%s,\"error\":", s->runs, s->ok ? "true" : "false");
	if (s->ok)
		fputs("null", f);
	else
		json_str(f, s->err);
	json_num(f, "messages", h & HAS_MSGS, (double)m->messages, 0);
	json_num(f, "delivered", h & HAS_MSGS, (double)m->delivered, 0);
	json_num(f, "lost", h & HAS_MSGS, (double)m->lost, 0);
	json_num(f, "errors", h & HAS_MSGS, (double)m->errors, 0);
	json_num(f, "elapsed_s", h & HAS_ELAPSED, m->elapsed_s, 6);
	json_num(f, "msgs_per_s", h & HAS_RATE, m->msgs_per_s, 0);
	json_num(f, "deliveries_per_s", h & HAS_RATE, m->deliveries_per_s, 0);
	fputs(",\"lost_per_client\":", f);
	if (m->nper) {
		for (unsigned i = 0; i < m->nper; i++)
			fprintf(f, "%c%llu", i ? ',' : '[', (unsigned long long)m->lost_per[i]);
		fputc(']', f);
	} else {
		fputs("null", f);
	}
	fputs(",\"latency_us\":", f);
	if (h & HAS_LATENCY)
		fprintf(f, "{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f}",
			(double)s->p50 / 1000, (double)s->p90 / 1000, (double)s->p99 / 1000,
			(double)s->p999 / 1000, (double)s->pmax / 1000);
	else
		fputs("null", f);
	json_num(f, "clients", s->w == BENCH_W4, rep->p->clients, 0);
	json_num(f, "bytes_per_client", s->w == BENCH_W4, m->bytes_per_client, 0);
	json_num(f, "rss_before_kib", h & HAS_MEMORY, (double)m->rss_before_kib, 0);
	json_num(f, "rss_after_kib", h & HAS_MEMORY, (double)m->rss_after_kib, 0);
	json_num(f, "cycles", h & HAS_CYCLES, (double)m->cycles, 0);
	json_num(f, "cycles_per_s", h & HAS_CYCLES, m->cycles_per_s, 0);
	fputc('}', f);
}

int bench_print_json(FILE *f, const struct bench_report *rep)
{
	const struct bench_opts *p = rep->p;
	bool ok = true;

	fprintf(f, "{\"tool\":\"jbus bench\",\"version\":");
	json_str(f, rep->version);
	fprintf(f, ",\"driver\":");
	json_str(f, rep->driver);
	fprintf(f, ",\"target\":");
	json_str(f, rep->target);
	fprintf(f, ",\"spawned\":%s,\"repeat\":%u,\"params\":{\"size\":%zu,\"messages\":%llu,"
		   "\"subscribers\":%u,\"trips\":%llu,\"clients\":%u,\"publishers\":%u,"
		   "\"duration_s\":%.3f,\"cycles\":",
		rep->spawned ? "true" : "false", rep->repeat, p->size, p->messages, p->subscribers,
		p->trips, p->clients, p->publishers, (double)p->duration_ms / 1000);
	if (p->cycles)
		fprintf(f, "%llu", p->cycles);
	else
		fputs("null", f);
	fputs(",\"cpu\":", f);
	if (p->cpu >= 0)
		fprintf(f, "%d", p->cpu);
	else
		fputs("null", f);
	fputs("},\"results\":[", f);
	for (unsigned i = 0; i < rep->n; i++) {
		if (i)
			fputc(',', f);
		json_result(f, rep, &rep->s[i]);
		ok &= rep->s[i].ok;
	}
	fprintf(f, "],\"ok\":%s}\n", ok ? "true" : "false");
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* section: SVG */

#define SVG_W	   800
#define SVG_H	   640
#define SVG_LEFT   90 /* room for the y axis labels */
#define SVG_RIGHT  30
#define PLOT_W	   (SVG_W - SVG_LEFT - SVG_RIGHT)
#define BARS_TOP   60
#define BARS_H	   200
#define CURVE_TOP  360
#define CURVE_H	   220

/* Percentiles of the latency curve, up to 99.999, then the maximum. */
static const double curve_pcts[] = { 0,  10, 20,   30,   40,   50,    60,    70,	 80,
				     90, 95, 97.5, 99,   99.5, 99.9, 99.95, 99.99, 99.999 };

/* x of percentile pct on a scale of "nines": 0 at 0%, 1 at 90%, 2 at 99%, ... 5 at 99.999%. */
static double nines(double pct)
{
	return pct >= 99.999 ? 5 : log10(100 / (100 - pct));
}

/* A label as SVG text: the '>' of "1 pub -> 8 subs" and the like escaped. */
static void svg_text(FILE *f, int x, int y, const char *s)
{
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x, y);
	for (; *s; s++) {
		if (*s == '<')
			fputs("&lt;", f);
		else if (*s == '>')
			fputs("&gt;", f);
		else if (*s == '&')
			fputs("&amp;", f);
		else
			fputc(*s, f);
	}
	fputs("</text>\n", f);
}

static void svg_bars(FILE *f, const struct bench_report *rep)
{
	double max = 0;
	unsigned nbars = 0, k = 0;
	char num[32];

	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"16\">Throughput (messages received per "
		   "second)</text>\n", SVG_LEFT, BARS_TOP - 20);
	for (unsigned i = 0; i < rep->n; i++) {
		if (has[rep->s[i].w] & HAS_RATE) {
			nbars++;
			if (rep->s[i].med.deliveries_per_s > max)
				max = rep->s[i].med.deliveries_per_s;
		}
	}
	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>\n", SVG_LEFT,
		BARS_TOP + BARS_H, SVG_LEFT + PLOT_W, BARS_TOP + BARS_H);
	if (!nbars || max <= 0) {
		fprintf(f, "<text x=\"%d\" y=\"%d\">no throughput workload (W1, W2, W5) ran"
			   "</text>\n", SVG_LEFT + 10, BARS_TOP + BARS_H / 2);
		return;
	}
	for (unsigned i = 0; i < rep->n; i++) {
		const struct bench_summary *s = &rep->s[i];
		int slot = PLOT_W / (int)nbars, x = SVG_LEFT + (int)k * slot + slot / 4;
		int h = (int)(s->med.deliveries_per_s / max * BARS_H);
		char w[64];

		if (!(has[s->w] & HAS_RATE))
			continue;
		k++;
		fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", x,
			BARS_TOP + BARS_H - h, slot / 2, h, s->ok ? "steelblue" : "firebrick");
		svg_text(f, x + slot / 4, BARS_TOP + BARS_H - h - 6,
			 thousands(num, sizeof(num), s->med.deliveries_per_s));
		svg_text(f, x + slot / 4, BARS_TOP + BARS_H + 18,
			 setup(w, sizeof(w), rep->p, s->w));
	}
}

static void svg_curve(FILE *f, const struct bench_summary *s)
{
	const double xs = PLOT_W / 5.0;
	double max;
	char lbl[32];

	fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"16\">W3 round trip latency by "
		   "percentile (microseconds)</text>\n", SVG_LEFT, CURVE_TOP - 20);
	fprintf(f, "<polyline fill=\"none\" stroke=\"black\" points=\"%d,%d %d,%d %d,%d\"/>\n",
		SVG_LEFT, CURVE_TOP, SVG_LEFT, CURVE_TOP + CURVE_H, SVG_LEFT + PLOT_W,
		CURVE_TOP + CURVE_H);
	if (!s || !s->hist || !s->hist->count) {
		fprintf(f, "<text x=\"%d\" y=\"%d\">W3 did not run</text>\n", SVG_LEFT + 10,
			CURVE_TOP + CURVE_H / 2);
		return;
	}
	max = (double)bench_hist_percentile(s->hist, 99.999);
	if (max <= 0)
		max = 1;
	for (int t = 0; t <= 5; t++) {
		static const char *const tick[] = { "0%", "90%", "99%", "99.9%", "99.99%",
						    "99.999%" };

		svg_text(f, SVG_LEFT + (int)(t * xs), CURVE_TOP + CURVE_H + 18, tick[t]);
	}
	for (int t = 0; t <= 4; t++) {
		snprintf(lbl, sizeof(lbl), "%.1f", max * t / 4 / 1000);
		fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>\n", SVG_LEFT - 6,
			CURVE_TOP + CURVE_H - t * CURVE_H / 4 + 4, lbl);
	}
	fputs("<polyline fill=\"none\" stroke=\"steelblue\" stroke-width=\"2\" points=\"", f);
	for (size_t i = 0; i < sizeof(curve_pcts) / sizeof(curve_pcts[0]); i++) {
		double v = (double)bench_hist_percentile(s->hist, curve_pcts[i]);

		fprintf(f, "%s%.1f,%.1f", i ? " " : "", SVG_LEFT + nines(curve_pcts[i]) * xs,
			CURVE_TOP + CURVE_H - (v > max ? max : v) / max * CURVE_H);
	}
	fputs("\"/>\n", f);
}

int bench_write_svg(FILE *f, const struct bench_report *rep)
{
	const struct bench_summary *w3 = NULL;

	for (unsigned i = 0; i < rep->n; i++)
		if (rep->s[i].w == BENCH_W3)
			w3 = &rep->s[i];
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
		   "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n",
		SVG_W, SVG_H, SVG_W, SVG_H);
	fprintf(f, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n", SVG_W, SVG_H);
	fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"18\">jbus bench: %s, %zu-byte payloads, "
		   "%s%u run%s</text>\n", SVG_LEFT, rep->driver, rep->p->size,
		rep->repeat > 1 ? "medians of " : "", rep->repeat, rep->repeat == 1 ? "" : "s");
	svg_bars(f, rep);
	svg_curve(f, w3);
	fputs("</svg>\n", f);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

/* section: progress */

void bench_progress(FILE *f, unsigned done, unsigned total, const char *now)
{
	enum { WIDTH = 30 };
	unsigned fill = total ? done * WIDTH / total : WIDTH;
	char bar[WIDTH + 1];

	if (!isatty(fileno(f)))
		return;
	if (done >= total) {
		fputs("\r\033[K", f); /* the table starts on a clean line */
		fflush(f);
		return;
	}
	memset(bar, '#', fill);
	memset(bar + fill, '.', WIDTH - fill);
	bar[WIDTH] = '\0';
	fprintf(f, "\r\033[K[%s] %u/%u %s", bar, done, total, now);
	fflush(f);
}
