/* sshcfg.c - the key/value form of `ssh -G` / `sshd -T` output. */
#include "sshcfg.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void kv_add(struct kvlist *kv, const char *key, const char *val)
{
	char *k = xstrdup(key);
	str_lower(k);
	strvec_push(&kv->keys, k);
	strvec_push(&kv->vals, val);
	free(k);
}

size_t kv_parse(struct kvlist *kv, const char *text)
{
	size_t kept = 0;
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);
		char *line = xstrndup(text, len);
		char *s = str_trim(line);
		if (*s && *s != '#') {
			size_t klen = strcspn(s, " \t");
			char *val = s + klen;
			if (*val)
				*val++ = '\0';
			kv_add(kv, s, str_trim(val));
			kept++;
		}
		free(line);
		text = nl ? nl + 1 : text + len;
	}
	return kept;
}

const char *kv_get(const struct kvlist *kv, const char *key)
{
	for (size_t i = 0; i < kv->keys.n; i++)
		if (strcasecmp(kv->keys.v[i], key) == 0)
			return kv->vals.v[i];
	return NULL;
}

long kv_get_long(const struct kvlist *kv, const char *key, long dflt)
{
	const char *v = kv_get(kv, key);
	long n;
	if (!v || parse_int(v, -2147483647L, 2147483647L, &n))
		return dflt;
	return n;
}

void kv_free(struct kvlist *kv)
{
	strvec_clear(&kv->keys);
	strvec_clear(&kv->vals);
}
