/* sshcfg.h - configuration as OpenSSH reports it: `ssh -G` and `sshd -T` output
 * ("keyword value" lines, lower-case keywords) kept as an ordered key/value list. */
#ifndef SSHDOCTOR_SSHCFG_H
#define SSHDOCTOR_SSHCFG_H

#include "util.h"

struct kvlist {
	struct strvec keys;
	struct strvec vals;
};

/* Parses "keyword value..." lines; keys are lower-cased. Returns lines kept. */
size_t kv_parse(struct kvlist *kv, const char *text);
void kv_add(struct kvlist *kv, const char *key, const char *val);
/* First value for key (case-insensitive), or NULL. */
const char *kv_get(const struct kvlist *kv, const char *key);
long kv_get_long(const struct kvlist *kv, const char *key, long dflt);
void kv_free(struct kvlist *kv);

#endif
