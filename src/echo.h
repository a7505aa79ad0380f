/* echo.h - the far end of `sshdoctor idle --via tcp`: a TCP echo server on the
 * event loop, for measuring a raw TCP path when you control both ends. */
#ifndef SSHDOCTOR_ECHO_H
#define SSHDOCTOR_ECHO_H

#include <stdint.h>

#include "finding.h"

#define ECHO_DEFAULT_LISTEN "127.0.0.1:7777"

/* Serves until Ctrl-C/SIGTERM (or run_ms, when > 0). Returns 0, or -1 with a
 * one-line reason in err (listen address invalid or busy). Fills r with the
 * number of connections served. */
int echo_serve(const char *listen, int64_t run_ms, struct report *r, char *err, size_t errlen);

#endif
