/* svg.h - what the HTML report's inline SVG charts are made of: escaping for
 * HTML/XML text and attributes (every string from a server is untrusted), linear
 * axes with round ticks, and element helpers appending to a strbuf. Pure. */
#ifndef SSHDOCTOR_SVG_H
#define SSHDOCTOR_SVG_H

#include "util.h"

/* Appends s escaped for HTML text and quoted attributes: & < > " ' become
 * entities, control bytes (except tab and newline) and invalid UTF-8 become
 * U+FFFD, so no byte of s can open a tag, end an attribute or break the page. */
void html_esc(struct strbuf *sb, const char *s);
/* html_esc of a printf result. */
void html_escf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* A linear axis: data [lo, hi] onto pixels [px0, px1] (px1 < px0 for a y axis
 * growing upwards). axis_fit widens [lo, hi] to multiples of a round step
 * (1, 2 or 5 times a power of ten) giving about `ticks` intervals. */
struct axis {
	double lo, hi, step;
	double px0, px1;
};
void axis_fit(struct axis *a, double lo, double hi, int ticks, double px0, double px1);
/* Pixel of v, clamped to the axis's pixel range. */
double axis_px(const struct axis *a, double v);
/* Number of ticks (lo, lo+step, ..., hi). */
int axis_nticks(const struct axis *a);
double axis_tick(const struct axis *a, int i);

/* Elements; cls is a CSS class of the page's stylesheet (trusted, from our code). */
void svg_begin(struct strbuf *sb, int w, int h, const char *label);
void svg_end(struct strbuf *sb);
void svg_line(struct strbuf *sb, double x1, double y1, double x2, double y2, const char *cls);
void svg_rect(struct strbuf *sb, double x, double y, double w, double h, const char *cls);
void svg_circle(struct strbuf *sb, double cx, double cy, double r, const char *cls);
/* Text (escaped); anchor "start", "middle" or "end". */
void svg_text(struct strbuf *sb, double x, double y, const char *anchor, const char *cls,
	      const char *fmt, ...) PRINTF_LIKE(6, 7);
/* Horizontal x axis at pixel y with tick labels (fmt for one double, e.g. "%g"),
 * vertical grid lines up to top, and a caption under it. */
void svg_xaxis(struct strbuf *sb, const struct axis *a, double y, double top, const char *caption);
/* Vertical y axis at pixel x with tick labels and horizontal grid lines to right. */
void svg_yaxis(struct strbuf *sb, const struct axis *a, double x, double right, const char *caption);

#endif
