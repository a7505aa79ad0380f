/* util.h - small helpers every module uses: allocation, strings, vectors, time. */
#ifndef SSHDOCTOR_UTIL_H
#define SSHDOCTOR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) PRINTF_LIKE(1, 2);
char *xvasprintf(const char *fmt, va_list ap) PRINTF_LIKE(1, 0);
/* Sets *err to the message unless an earlier one is kept there (err may be
 * NULL); returns -1 so callers can `return err_set(err, ...)`. */
int err_set(char **err, const char *fmt, ...) PRINTF_LIKE(2, 3);

/* A growable NULL-terminated vector of owned strings (argv-shaped). */
struct strvec {
	char **v;
	size_t n, cap;
};
void strvec_push(struct strvec *sv, const char *s);
void strvec_pushf(struct strvec *sv, const char *fmt, ...) PRINTF_LIKE(2, 3);
void strvec_pushv(struct strvec *sv, const struct strvec *other);
void strvec_clear(struct strvec *sv);

/* A growable byte buffer, always NUL-terminated. */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void sb_add(struct strbuf *sb, const void *data, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_addf(struct strbuf *sb, const char *fmt, ...) PRINTF_LIKE(2, 3);
void sb_reset(struct strbuf *sb);
void sb_free(struct strbuf *sb);

/* Milliseconds on the monotonic clock, and on the wall clock. */
int64_t now_ms(void);
int64_t wall_ms(void);

/* "90", "90s", "5m", "2h", "1h30m", "250ms" -> milliseconds; -1 on error. */
int64_t parse_duration_ms(const char *s);
/* Human form of a duration: "8s", "5m", "1h2m". */
void format_duration(char *buf, size_t n, int64_t ms);
/* Strict decimal integer in [min,max]; returns 0 on success. */
int parse_int(const char *s, long min, long max, long *out);

/* Levenshtein distance, for "did you mean". */
size_t edit_distance(const char *a, const char *b);

/* Trim ASCII whitespace in place, return pointer to first non-space. */
char *str_trim(char *s);
int str_startswith(const char *s, const char *prefix);
void str_lower(char *s);

#endif
