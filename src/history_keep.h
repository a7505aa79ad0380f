/* history_keep.h - keep's tunnel events in `history` (measurements.history.tunnels
 * and the finding history.tunnel-falls). */
#ifndef SSHDOCTOR_HISTORY_KEEP_H
#define SSHDOCTOR_HISTORY_KEEP_H

#include <stddef.h>
#include <stdint.h>

struct report;
struct json_object;

/* Reads keep's events for target (NULL: all) since since_wall_ms from the store at
 * path (NULL: the default) into m and r. Returns 0, or -1 with err. */
int history_keep_report(const char *path, const char *target, int64_t since_wall_ms,
			struct report *r, struct json_object *m, char *err, size_t errlen);

#endif
