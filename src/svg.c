/* svg.c - escaping, axes and elements for the report's inline SVG (svg.h). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when it is not one
 * (overlong forms, surrogates and code points past U+10FFFF are invalid). */
static size_t utf8_len(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;	/* also stops at the NUL */
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void html_esc(struct strbuf *sb, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	while (*p) {
		switch (*p) {
		case '&': sb_adds(sb, "&amp;"); p++; continue;
		case '<': sb_adds(sb, "&lt;"); p++; continue;
		case '>': sb_adds(sb, "&gt;"); p++; continue;
		case '"': sb_adds(sb, "&quot;"); p++; continue;
		case '\'': sb_adds(sb, "&#39;"); p++; continue;
		case '\t': case '\n': sb_add(sb, p, 1); p++; continue;
		default: break;
		}
		size_t n = *p < 0x20 || *p == 0x7f ? 0 : utf8_len(p);
		if (n == 0) {
			sb_adds(sb, "\xef\xbf\xbd");	/* U+FFFD for one bad byte */
			p++;
		} else {
			sb_add(sb, p, n);
			p += n;
		}
	}
}

void html_escf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	html_esc(sb, s);
	free(s);
}

static double dabs(double x)
{
	return x < 0 ? -x : x;
}

/* floor and ceil without libm (the tool links none); |x| < 2^62 here. */
static double dfloor(double x)
{
	double t = (double)(long long)x;
	return t > x ? t - 1 : t;
}

static double dceil(double x)
{
	return -dfloor(-x);
}

/* 1, 2 or 5 times a power of ten, the smallest not below x (x > 0). */
static double round_step(double x)
{
	double p = 1;
	int i = 0;
	while (p > x && i++ < 40)
		p /= 10;
	while (p * 10 <= x && i++ < 80)
		p *= 10;
	double m = x / p;	/* 1 <= m < 10 */
	return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

void axis_fit(struct axis *a, double lo, double hi, int ticks, double px0, double px1)
{
	if (!isfinite(lo) || !isfinite(hi))
		lo = 0, hi = 1;
	if (hi < lo) {
		double t = lo;
		lo = hi, hi = t;
	}
	if (lo < -1e15 || hi > 1e15)	/* nothing we measure; keeps dfloor exact */
		lo = lo < -1e15 ? -1e15 : lo, hi = hi > 1e15 ? 1e15 : hi;
	if (hi - lo < 1e-9)
		hi = lo + (dabs(lo) > 1 ? dabs(lo) * 0.1 : 1);
	if (ticks < 1)
		ticks = 1;
	a->step = round_step((hi - lo) / ticks);
	a->lo = dfloor(lo / a->step + 1e-9) * a->step;
	a->hi = dceil(hi / a->step - 1e-9) * a->step;
	if (a->hi <= a->lo)
		a->hi = a->lo + a->step;
	a->px0 = px0;
	a->px1 = px1;
}

double axis_px(const struct axis *a, double v)
{
	double f = (v - a->lo) / (a->hi - a->lo);
	if (!(f >= 0))	/* also NaN */
		f = 0;
	if (f > 1)
		f = 1;
	return a->px0 + f * (a->px1 - a->px0);
}

int axis_nticks(const struct axis *a)
{
	return (int)((a->hi - a->lo) / a->step + 0.5) + 1;
}

double axis_tick(const struct axis *a, int i)
{
	double v = a->lo + i * a->step;
	return dabs(v) < a->step * 1e-9 ? 0 : v;	/* no "-0" label */
}

void svg_begin(struct strbuf *sb, int w, int h, const char *label)
{
	sb_addf(sb, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", w, h, w, h);
	html_esc(sb, label);
	sb_adds(sb, "\">\n");
}

void svg_end(struct strbuf *sb)
{
	sb_adds(sb, "</svg>\n");
}

void svg_line(struct strbuf *sb, double x1, double y1, double x2, double y2, const char *cls)
{
	sb_addf(sb, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"%s\"/>\n",
		x1, y1, x2, y2, cls);
}

void svg_rect(struct strbuf *sb, double x, double y, double w, double h, const char *cls)
{
	sb_addf(sb, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"%s\"/>\n",
		x, y, w < 0 ? 0 : w, h < 0 ? 0 : h, cls);
}

void svg_circle(struct strbuf *sb, double cx, double cy, double r, const char *cls)
{
	sb_addf(sb, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" class=\"%s\"/>\n", cx, cy, r, cls);
}

void svg_text(struct strbuf *sb, double x, double y, const char *anchor, const char *cls,
	      const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = xvasprintf(fmt, ap);
	va_end(ap);
	sb_addf(sb, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" class=\"%s\">", x, y, anchor, cls);
	html_esc(sb, s);
	sb_adds(sb, "</text>\n");
	free(s);
}

void svg_xaxis(struct strbuf *sb, const struct axis *a, double y, double top, const char *caption)
{
	svg_line(sb, a->px0, y, a->px1, y, "axis");
	for (int i = 0, n = axis_nticks(a); i < n && i < 50; i++) {
		double x = axis_px(a, axis_tick(a, i));
		svg_line(sb, x, y, x, top, "grid");
		svg_text(sb, x, y + 14, "middle", "tick", "%g", axis_tick(a, i));
	}
	if (caption)
		svg_text(sb, (a->px0 + a->px1) / 2, y + 30, "middle", "caption", "%s", caption);
}

void svg_yaxis(struct strbuf *sb, const struct axis *a, double x, double right, const char *caption)
{
	svg_line(sb, x, a->px0, x, a->px1, "axis");
	for (int i = 0, n = axis_nticks(a); i < n && i < 50; i++) {
		double y = axis_px(a, axis_tick(a, i));
		svg_line(sb, x, y, right, y, "grid");
		svg_text(sb, x - 4, y + 4, "end", "tick", "%g", axis_tick(a, i));
	}
	if (caption)
		svg_text(sb, x, a->px1 - 8, "start", "caption", "%s", caption);
}
